"""Helpers shared by the audio tests: WAV headers built by hand, test tones, pipe writers."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

UNTIL_EOF = 0xFFFFFFFF
PIPE_WRITER = Path(__file__).resolve().parent / "pipe_writer.py"


def tone(seconds: float, rate: int, freq: float = 440.0, amp: float = 0.5) -> NDArray[np.float32]:
    """A sine tone, the test signal whose content we can check after any conversion."""
    t = np.arange(round(seconds * rate)) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def fmt_chunk(tag: int, channels: int, rate: int, bits: int, *, extensible: bool = False) -> bytes:
    """A fmt chunk (header included); ``extensible`` wraps ``tag`` in WAVE_FORMAT_EXTENSIBLE."""
    width = (bits + 7) // 8
    block = width * channels
    if not extensible:
        body = struct.pack("<HHIIHH", tag, channels, rate, rate * block, block, bits)
    else:
        guid = struct.pack("<H", tag) + bytes.fromhex("000000001000800000aa00389b71")
        body = struct.pack("<HHIIHH", 0xFFFE, channels, rate, rate * block, block, bits)
        body += struct.pack("<HHI", 22, bits, 0) + guid
    return b"fmt " + struct.pack("<I", len(body)) + body


def wav_header(
    fmt: bytes, data_len: int, *, extra_chunks: bytes = b"", riff_len: int = UNTIL_EOF
) -> bytes:
    """RIFF/WAVE header up to and including the data chunk header."""
    return (
        b"RIFF"
        + struct.pack("<I", riff_len)
        + b"WAVE"
        + fmt
        + extra_chunks
        + b"data"
        + struct.pack("<I", data_len)
    )


def chunk(chunk_id: bytes, body: bytes) -> bytes:
    """One RIFF chunk with its pad byte when the body length is odd."""
    return chunk_id + struct.pack("<I", len(body)) + body + (b"\0" if len(body) % 2 else b"")


def pcm16(samples: NDArray[np.float32]) -> bytes:
    """Little-endian int16 bytes of a float signal."""
    return (np.clip(np.rint(samples * 32768), -32768, 32767)).astype("<i2").tobytes()


class PipeWriter(threading.Thread):
    """Writes ``first`` into a real OS pipe, waits for the reader's signal, then the rest.

    If the reader only produced audio at EOF it would never signal, and ``signalled``
    stays False: that is how tests prove audio streams out before the writer finishes.
    """

    def __init__(
        self, first: bytes, rest: bytes, wait: Callable[[float], bool], timeout_s: float
    ) -> None:
        super().__init__(daemon=True)
        self.read_fd, self._write_fd = os.pipe()
        self._first, self._rest = first, rest
        self._wait, self._timeout = wait, timeout_s
        self.signalled = False
        self.finished = False

    def run(self) -> None:
        try:
            os.write(self._write_fd, self._first)
            self.signalled = self._wait(self._timeout)
            view = memoryview(self._rest)
            while view:
                view = view[os.write(self._write_fd, view[:4096]) :]
        finally:
            self.finished = True
            os.close(self._write_fd)


def pipe_from_process(path: Path, piece: int = 4096) -> subprocess.Popen[bytes]:
    """A Python subprocess copying ``path`` to its stdout: a real pipe from another process.

    Stands in for ``cat file |`` or ``sox ... -t wav - |`` with nothing but Python installed.
    """
    return subprocess.Popen(
        [sys.executable, str(PIPE_WRITER), str(path), str(piece)], stdout=subprocess.PIPE
    )
