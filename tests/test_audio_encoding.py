"""Wire encodings: exact bytes for PCM, G.711 checked against sox and a scalar reference."""

from __future__ import annotations

import struct
import subprocess
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from flux_cli.audio.encoding import ENCODINGS, bytes_per_sample, decode, encode

SOX_TYPES = {"mulaw": "ul", "alaw": "al"}


def ref_lin2ulaw(pcm: int) -> int:
    """G.711 mu-law, written straight from the reference algorithm, one sample at a time."""
    seg_end = [0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF]
    pcm >>= 2
    if pcm < 0:
        pcm, mask = -pcm, 0x7F
    else:
        mask = 0xFF
    pcm = min(pcm, 8159) + 0x21
    seg = next((i for i, end in enumerate(seg_end) if pcm <= end), 8)
    if seg >= 8:
        return 0x7F ^ mask
    return ((seg << 4) | ((pcm >> (seg + 1)) & 0xF)) ^ mask


def ref_lin2alaw(pcm: int) -> int:
    """G.711 A-law, written straight from the reference algorithm, one sample at a time."""
    seg_end = [0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF]
    pcm >>= 3
    if pcm >= 0:
        mask = 0xD5
    else:
        mask, pcm = 0x55, -pcm - 1
    seg = next((i for i, end in enumerate(seg_end) if pcm <= end), 8)
    if seg >= 8:
        return 0x7F ^ mask
    quant = (pcm >> 1) if seg < 2 else (pcm >> seg)
    return ((seg << 4) | (quant & 0xF)) ^ mask


def sox(*args: str) -> None:
    subprocess.run(["sox", "-D", *args], check=True, capture_output=True)


def test_bytes_per_sample() -> None:
    assert [bytes_per_sample(e) for e in ENCODINGS] == [2, 4, 1, 1]
    with pytest.raises(ValueError, match="unknown encoding"):
        bytes_per_sample("opus")


def test_linear16_is_little_endian_int16_with_clipping() -> None:
    x = np.array([0.0, 0.5, -0.5, 1.0, -1.0, 3.0, -3.0, 1 / 32768], dtype=np.float32)
    expected = struct.pack("<8h", 0, 16384, -16384, 32767, -32768, 32767, -32768, 1)
    assert encode(x, "linear16") == expected


def test_linear32_is_little_endian_int32_pcm() -> None:
    x = np.array([0.0, 0.5, -0.5, 1.0, -1.0, 2.0], dtype=np.float32)
    expected = struct.pack("<6i", 0, 2**30, -(2**30), 2**31 - 1, -(2**31), 2**31 - 1)
    assert encode(x, "linear32") == expected


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_empty_and_nan(encoding: str) -> None:
    assert encode(np.zeros(0, dtype=np.float32), encoding) == b""
    assert decode(b"", encoding).shape == (0,)
    silent = decode(encode(np.array([np.nan], dtype=np.float32), encoding), encoding)
    assert abs(float(silent[0])) < 1e-3


@pytest.mark.parametrize(("encoding", "tolerance"), [("linear16", 1 / 32768), ("linear32", 1e-7)])
def test_pcm_round_trip(encoding: str, tolerance: float) -> None:
    x = np.random.default_rng(1).uniform(-1, 0.999, 10_000).astype(np.float32)
    y = decode(encode(x, encoding), encoding)
    assert y.dtype == np.float32 and y.shape == x.shape
    assert np.max(np.abs(y - x)) <= tolerance


@pytest.mark.parametrize("encoding", ["mulaw", "alaw"])
def test_g711_round_trip_error_is_logarithmic(encoding: str) -> None:
    x = np.random.default_rng(2).uniform(-0.99, 0.99, 10_000).astype(np.float32)
    y = decode(encode(x, encoding), encoding)
    # 8-bit companding keeps about 4 mantissa bits: error within ~1/16 of the value, plus a floor.
    assert np.all(np.abs(y - x) <= np.abs(x) / 16 + 2e-3)


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_decode_rejects_a_partial_sample(encoding: str) -> None:
    width = bytes_per_sample(encoding)
    assert decode(bytes(width * 3), encoding).shape == (3,)
    if width > 1:
        with pytest.raises(ValueError, match="whole number"):
            decode(bytes(width * 3 + 1), encoding)


@pytest.mark.parametrize(
    ("encoding", "reference"), [("mulaw", ref_lin2ulaw), ("alaw", ref_lin2alaw)]
)
def test_g711_encode_matches_reference_for_every_int16(
    encoding: str, reference: Callable[[int], int]
) -> None:
    pcm = np.arange(-32768, 32768)
    expected = bytes(reference(int(v)) for v in pcm)
    assert encode((pcm / 32768).astype(np.float32), encoding) == expected


@pytest.mark.parametrize("encoding", ["mulaw", "alaw"])
def test_g711_decode_matches_sox_for_all_256_codes(encoding: str, tmp_path: Path) -> None:
    ext = SOX_TYPES[encoding]
    (tmp_path / f"codes.{ext}").write_bytes(bytes(range(256)))
    sox("-r", "8000", "-c", "1", str(tmp_path / f"codes.{ext}"), "-t", "raw", "-e", "signed",
        "-b", "16", str(tmp_path / "codes.s16"))  # fmt: skip
    expected = np.fromfile(tmp_path / "codes.s16", dtype="<i2")
    ours = decode(bytes(range(256)), encoding) * 32768
    np.testing.assert_array_equal(ours.astype(np.int32), expected)


@pytest.mark.parametrize("encoding", ["mulaw", "alaw"])
def test_g711_encode_matches_sox(encoding: str, tmp_path: Path) -> None:
    # sox rounds to 13/14 bits where the reference truncates; on multiples of 8 both agree.
    pcm = np.arange(-32768, 32768, 8, dtype="<i2")
    pcm.tofile(tmp_path / "in.s16")
    ext = SOX_TYPES[encoding]
    sox("-t", "raw", "-r", "8000", "-e", "signed", "-b", "16", "-c", "1",
        str(tmp_path / "in.s16"), "-t", ext, str(tmp_path / f"out.{ext}"))  # fmt: skip
    expected = (tmp_path / f"out.{ext}").read_bytes()
    assert encode((pcm / 32768).astype(np.float32), encoding) == expected


def test_g711_silence_codes() -> None:
    zero = np.zeros(1, dtype=np.float32)
    assert encode(zero, "mulaw") == b"\xff"
    assert encode(zero, "alaw") == b"\xd5"
