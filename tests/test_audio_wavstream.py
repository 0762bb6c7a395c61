"""Streaming WAV parser: literal headers, every subtype soundfile writes, and real pipes."""

from __future__ import annotations

import io
import os
import struct
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import timeout
from helpers.audio_testutil import (
    UNTIL_EOF,
    PipeWriter,
    chunk,
    fmt_chunk,
    pcm16,
    pipe_from_process,
    tone,
    wav_header,
)
from numpy.typing import NDArray

from flux_cli.audio.wavstream import WavError, WavStreamParser, iter_wav_stream, parse_fmt

SUBTYPES = ["PCM_U8", "PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE", "ULAW", "ALAW"]


def reader_of(data: bytes, sizes: tuple[int, ...] = (1, 7, 13, 4096)) -> Callable[[], bytes]:
    """Returns ``data`` in pieces of varying size, like reads from a pipe."""
    pos, turn = 0, 0

    def read() -> bytes:
        nonlocal pos, turn
        size = sizes[turn % len(sizes)]
        turn += 1
        piece = data[pos : pos + size]
        pos += len(piece)
        return piece

    return read


def collect(blocks: Iterator[NDArray[np.float32]]) -> NDArray[np.float32]:
    got = list(blocks)
    assert all(b.ndim == 2 for b in got)
    return np.concatenate(got) if got else np.zeros((0, 1), dtype=np.float32)


# libsndfile writes G.711 only as plain WAV, not as WAVE_FORMAT_EXTENSIBLE.
CASES = [("WAV", s) for s in SUBTYPES] + [("WAVEX", s) for s in SUBTYPES if "LAW" not in s]


@pytest.mark.parametrize(("fmt_name", "subtype"), CASES)
def test_every_soundfile_subtype_matches_soundfile(fmt_name: str, subtype: str) -> None:
    rng = np.random.default_rng(3)
    stereo = rng.uniform(-0.9, 0.9, (2001, 2)).astype(np.float32)
    buf = io.BytesIO()
    sf.write(buf, stereo, 22050, format=fmt_name, subtype=subtype)
    data = buf.getvalue()
    expected, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    parser = WavStreamParser()
    got = collect(iter_wav_stream(reader_of(data)))
    np.testing.assert_allclose(got, expected, atol=1e-6)
    parser.feed(data)
    assert parser.format is not None
    assert (parser.format.sample_rate, parser.format.channels) == (rate, 2)
    assert parser.format.subtype == subtype


@pytest.mark.parametrize("data_len", [0, UNTIL_EOF, 10**9])
def test_unknown_or_too_big_data_length_means_until_eof(data_len: int) -> None:
    audio = tone(0.1, 16000)
    data = wav_header(fmt_chunk(1, 1, 16000, 16), data_len) + pcm16(audio)
    got = collect(iter_wav_stream(reader_of(data)))
    assert got.shape == (len(audio), 1)
    np.testing.assert_allclose(got[:, 0], audio, atol=1 / 32768)


def test_unknown_chunks_are_skipped_including_odd_sized_ones() -> None:
    audio = tone(0.05, 8000)
    extra = chunk(b"LIST", b"INFOISFT\x05\x00\x00\x00odd!\x00") + chunk(b"junk", b"abc")
    data = wav_header(fmt_chunk(1, 1, 8000, 16), len(audio) * 2, extra_chunks=extra)
    data += pcm16(audio) + chunk(b"LIST", b"trailing metadata after the data chunk")
    got = collect(iter_wav_stream(reader_of(data)))
    assert got.shape == (len(audio), 1)


def test_extensible_24_bit_by_hand() -> None:
    values = np.array([0, 1, -1, 2**23 - 1, -(2**23)], dtype=np.int32)
    body = b"".join(int(v).to_bytes(3, "little", signed=True) for v in values)
    data = wav_header(fmt_chunk(1, 1, 48000, 24, extensible=True), len(body)) + body
    got = collect(iter_wav_stream(reader_of(data)))
    np.testing.assert_allclose(got[:, 0], values / 2**23, atol=1e-9)


def test_partial_sample_frames_carry_over_between_reads() -> None:
    parser = WavStreamParser()
    header = wav_header(fmt_chunk(1, 2, 16000, 16), UNTIL_EOF)
    assert parser.feed(header) is None and parser.in_data
    frame = pcm16(np.array([0.25, -0.25], dtype=np.float32))
    assert parser.feed(frame[:3]) is None
    out = parser.feed(frame[3:])
    assert out is not None
    np.testing.assert_allclose(out, [[0.25, -0.25]])


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"RIFX\0\0\0\0WAVE", "no RIFF/WAVE"),
        (b"RIFF\0\0\0\0AVI ", "no RIFF/WAVE"),
        (b"RIFF\0\0\0\0WAVEdata\0\0\0\0", "before its fmt"),
        (wav_header(fmt_chunk(2, 1, 8000, 4), 0), "unsupported WAV encoding"),
        (wav_header(fmt_chunk(1, 1, 8000, 12), 0), "unsupported WAV encoding"),
        (b"RIFF\0\0\0\0WAVEfmt \0\0\1\0", "implausibly large"),
    ],
)
def test_bad_headers(data: bytes, message: str) -> None:
    with pytest.raises(WavError, match=message):
        WavStreamParser().feed(data)


def test_truncated_header_is_an_error_at_eof() -> None:
    data = wav_header(fmt_chunk(1, 1, 8000, 16), 0)[:30]
    with pytest.raises(WavError, match="ended before its header"):
        list(iter_wav_stream(reader_of(data)))


def test_fmt_too_short() -> None:
    with pytest.raises(WavError, match="too short"):
        parse_fmt(b"\1\0\1\0")


@pytest.mark.parametrize("data_len", [0, UNTIL_EOF])
def test_live_pipe_yields_audio_before_the_writer_finishes(data_len: int) -> None:
    audio = tone(1.0, 16000)
    first = wav_header(fmt_chunk(1, 1, 16000, 16), data_len) + pcm16(audio[:1280])
    got_audio = threading.Event()
    writer = PipeWriter(first, pcm16(audio[1280:]), got_audio.wait, timeout(10))
    writer.start()
    blocks: list[NDArray[np.float32]] = []
    for block in iter_wav_stream(lambda: os.read(writer.read_fd, 65536)):
        if not blocks:
            assert not writer.finished
            got_audio.set()
        blocks.append(block)
    writer.join(timeout(10))
    os.close(writer.read_fd)
    assert writer.signalled, "no audio came out until the writer gave up waiting"
    assert sum(len(b) for b in blocks) == len(audio)


# The headers sox and ffmpeg write when their output is a pipe they cannot seek back into:
# sox claims a huge length just under 2 GiB; ffmpeg says 0xFFFFFFFF and adds a LIST chunk.
SOX_PIPE_HEADER = wav_header(fmt_chunk(1, 1, 16000, 16), 0x7FFFF000, riff_len=0x7FFFF024)
FFMPEG_PIPE_HEADER = wav_header(
    fmt_chunk(1, 1, 16000, 16),
    UNTIL_EOF,
    extra_chunks=chunk(b"LIST", b"INFOISFT" + struct.pack("<I", 14) + b"Lavf59.27.100\0"),
)


@pytest.mark.slow
@pytest.mark.parametrize(
    "header",
    [SOX_PIPE_HEADER, FFMPEG_PIPE_HEADER],
    ids=["sox-style-oversized-length", "ffmpeg-style-ffffffff-and-LIST"],
)
def test_tool_style_stream_from_another_process(header: bytes, tmp_path: Path) -> None:
    """A WAV stream as those tools send it, written into a real pipe by another process."""
    stream = tmp_path / "stream.wav"
    stream.write_bytes(header + pcm16(tone(1.0, 16000, 440, 0.5)))
    proc = pipe_from_process(stream, piece=1000)  # pieces that split header and samples
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    got = collect(iter_wav_stream(lambda: os.read(fd, 65536)))
    assert proc.wait(timeout(20)) == 0
    proc.stdout.close()
    assert got.shape == (16000, 1)
    spectrum = np.abs(np.fft.rfft(got[:, 0]))
    assert int(np.argmax(spectrum)) == 440  # 1 s of audio: bin n is n Hz


def _pcm16_header(data_bytes: int) -> bytes:
    fmt = struct.pack("<HHIIHH", 1, 1, 16000, 32000, 2, 16)
    return (b"RIFF" + struct.pack("<I", 36 + data_bytes) + b"WAVE" + b"fmt "
            + struct.pack("<I", 16) + fmt + b"data" + struct.pack("<I", data_bytes))


def test_missing_bytes_tell_a_cut_stream_from_a_recorders_placeholder() -> None:
    cut = WavStreamParser()
    cut.feed(_pcm16_header(1000) + bytes(600))
    assert cut.missing_bytes == 400 and not cut.done
    whole = WavStreamParser()
    whole.feed(_pcm16_header(1000) + bytes(1000))
    assert whole.missing_bytes == 0 and whole.done
    # arecord | flux transcribe -: a length near 2 GiB that no pipe is expected to fill
    live = WavStreamParser()
    live.feed(_pcm16_header(0x7FFFFFFF - 36) + bytes(600))
    assert live.missing_bytes == 0
