"""The composed path from a real file to wire bytes."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import timeout
from helpers.audio_testutil import UNTIL_EOF, PipeWriter, fmt_chunk, pcm16, tone, wav_header

from flux_cli.audio import ENCODINGS, bytes_per_sample, decode, open_source
from flux_cli.audio.pipeline import wire_frames


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_wire_frames_from_a_stereo_44k_file(tmp_path: Path, encoding: str) -> None:
    path = tmp_path / "call.wav"
    left = tone(2.03, 44100, 440, 0.5)
    sf.write(path, np.stack([left, left], axis=1), 44100, subtype="PCM_16")
    with open_source(str(path)) as source:
        payloads = list(wire_frames(source, sample_rate=16000, chunk_ms=80, encoding=encoding))
    width = bytes_per_sample(encoding)
    assert all(payloads) and all(len(p) == 1280 * width for p in payloads[:-1])
    assert 0 < len(payloads[-1]) <= 1280 * width
    total = sum(len(p) for p in payloads)
    assert abs(total // width - round(len(left) * 16000 / 44100)) <= 2
    seconds = total / width / 16000
    assert seconds == pytest.approx(len(left) / 44100, abs=2 / 16000)
    audio = decode(b"".join(payloads), encoding)
    assert abs(float(np.sqrt(np.mean(audio[1000:-1000] ** 2))) - 0.5 / np.sqrt(2)) < 0.01


def test_bad_encoding_fails_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "a.wav"
    sf.write(path, tone(0.1, 16000), 16000)
    with pytest.raises(ValueError, match="unknown encoding"):
        next(wire_frames(open_source(str(path)), sample_rate=16000, chunk_ms=80, encoding="x"))


def test_live_stdin_frames_leave_before_the_writer_finishes() -> None:
    """arecord | flux: the first 80 ms frame must go out while the writer still has more."""
    audio = tone(2.0, 48000)
    first = wav_header(fmt_chunk(1, 1, 48000, 16), UNTIL_EOF) + pcm16(audio[:9600])  # 200 ms
    sent_one = threading.Event()
    writer = PipeWriter(first, pcm16(audio[9600:]), sent_one.wait, timeout(10))
    writer.start()
    with open(writer.read_fd, "rb") as stdin:
        source = open_source("-", stdin=stdin)
        count = 0
        for _ in wire_frames(source, sample_rate=16000, chunk_ms=80, encoding="linear16"):
            if count == 0:
                assert not writer.finished
                sent_one.set()
            count += 1
    writer.join(timeout(10))
    assert writer.signalled, "no frame was produced until the writer gave up waiting"
    assert count == 25  # 2 s at 16 kHz in 80 ms frames
