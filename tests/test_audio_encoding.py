"""Wire encodings: exact bytes for PCM; G.711 against scalar references and literal codes."""

from __future__ import annotations

import io
import struct
from collections.abc import Callable

import numpy as np
import pytest
import soundfile as sf

from flux_cli.audio.encoding import ENCODINGS, bytes_per_sample, decode, encode


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


def ref_ulaw2lin(code: int) -> int:
    """G.711 mu-law decoding from the textbook formula, in 16-bit units.

    The bits are stored inverted: sign, 3-bit exponent e, 4-bit mantissa m. The magnitude
    in 14-bit units is (2m + 33) * 2**e - 33, the middle of the step the code stands for.
    """
    code = ~code & 0xFF
    sign, exponent, mantissa = code >> 7, (code >> 4) & 7, code & 0xF
    magnitude = ((2 * mantissa + 33) * 2**exponent - 33) * 4
    return -magnitude if sign else magnitude


def ref_alaw2lin(code: int) -> int:
    """G.711 A-law decoding from the textbook formula, in 16-bit units.

    Even bits are stored inverted (XOR 0x55); a set sign bit means positive. In 13-bit
    units the magnitude is 2m + 1 in the first segment, (2m + 33) * 2**(e - 1) above it.
    """
    code ^= 0x55
    sign, exponent, mantissa = code >> 7, (code >> 4) & 7, code & 0xF
    steps = 2 * mantissa + 1 if exponent == 0 else (2 * mantissa + 33) * 2 ** (exponent - 1)
    return steps * 8 if sign else -steps * 8


# Entries of the published G.711 decoding tables (ITU-T G.711 / Sun g711.c), in 16-bit units.
KNOWN_DECODED = {
    "mulaw": {0x00: -32124, 0x01: -31100, 0x0F: -16764, 0x70: -120, 0x7E: -8, 0x7F: 0,
              0x80: 32124, 0xF0: 120, 0xFE: 8, 0xFF: 0},
    "alaw": {0x00: -5504, 0x01: -5248, 0x2A: -32256, 0x55: -8, 0x54: -24,
             0x80: 5504, 0xAA: 32256, 0xD5: 8, 0xD4: 24},
}  # fmt: skip
SF_SUBTYPES = {"mulaw": "ULAW", "alaw": "ALAW"}
REF_DECODERS = {"mulaw": ref_ulaw2lin, "alaw": ref_alaw2lin}


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
def test_g711_reference_decoders_agree_with_the_published_tables(encoding: str) -> None:
    """Guards the references themselves, so the comparisons below are against G.711."""
    for code, value in KNOWN_DECODED[encoding].items():
        assert REF_DECODERS[encoding](code) == value, hex(code)


@pytest.mark.parametrize("encoding", ["mulaw", "alaw"])
def test_g711_decode_matches_reference_for_all_256_codes(encoding: str) -> None:
    expected = np.array([REF_DECODERS[encoding](c) for c in range(256)], dtype=np.int32)
    ours = decode(bytes(range(256)), encoding) * 32768
    assert ours.dtype == np.float32
    np.testing.assert_array_equal(ours.astype(np.int32), expected)
    np.testing.assert_array_equal(ours, expected)  # exact: no fractional part either
    # libsndfile's own G.711 tables are a second, independently written decoder
    theirs, _ = sf.read(io.BytesIO(bytes(range(256))), dtype="int16", format="RAW",
                        subtype=SF_SUBTYPES[encoding], samplerate=8000, channels=1)  # fmt: skip
    np.testing.assert_array_equal(theirs.astype(np.int32), expected)


@pytest.mark.parametrize("encoding", ["mulaw", "alaw"])
def test_g711_known_code_values(encoding: str) -> None:
    codes = bytes(KNOWN_DECODED[encoding])
    values = np.array(list(KNOWN_DECODED[encoding].values()), dtype=np.float32)
    np.testing.assert_array_equal(decode(codes, encoding) * 32768, values)
    # each table value encodes back to its code (mu-law's negative zero 0x7F becomes 0xFF) ...
    expected = codes.replace(b"\x7f", b"\xff") if encoding == "mulaw" else codes
    assert encode((values / 32768).astype(np.float32), encoding) == expected
    # ... and full scale clips to the outermost codes, zero to the silence code
    extremes = np.array([32767 / 32768, -1.0, 0.0, 3.0, -3.0], dtype=np.float32)
    outer = {"mulaw": b"\x80\x00\xff\x80\x00", "alaw": b"\xaa\x2a\xd5\xaa\x2a"}
    assert encode(extremes, encoding) == outer[encoding]


@pytest.mark.parametrize("encoding", ["mulaw", "alaw"])
def test_g711_every_code_survives_decode_then_encode(encoding: str) -> None:
    """Each decoded value is the middle of its code's step, so encoding it gives the code back.

    The one exception is mu-law's negative zero (0x7F), which decodes to 0 like 0xFF.
    """
    codes = bytes(range(256))
    back = encode(decode(codes, encoding), encoding)
    expected = codes.replace(b"\x7f", b"\xff") if encoding == "mulaw" else codes
    assert back == expected


def test_g711_silence_codes() -> None:
    zero = np.zeros(1, dtype=np.float32)
    assert encode(zero, "mulaw") == b"\xff"
    assert encode(zero, "alaw") == b"\xd5"
