"""Interleaved PCM bytes (raw input or a WAV data chunk) to float32 frames.

Raw stdin and streaming WAV share this, so a WAV header is just a way of naming one of
these sample formats.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from flux_cli.audio.encoding import decode
from flux_cli.audio.input_format import SAMPLE_FORMATS

_WIDTH = {
    "s16le": 2,
    "s24le": 3,
    "s32le": 4,
    "f32le": 4,
    "f64le": 8,
    "u8": 1,
    "mulaw": 1,
    "alaw": 1,
}


def sample_width(sample_format: str) -> int:
    """Bytes per sample of one channel."""
    if sample_format not in _WIDTH:
        raise ValueError(
            f"unknown sample format {sample_format!r}; expected one of {', '.join(SAMPLE_FORMATS)}"
        )
    return _WIDTH[sample_format]


def _s24_to_float(data: bytes) -> NDArray[np.float32]:
    b = np.frombuffer(data, dtype=np.uint8).reshape(-1, 3).astype(np.uint32)
    # Put the 24 bits at the top of an int32, then shift back down to sign-extend.
    packed = ((b[:, 0] << 8) | (b[:, 1] << 16) | (b[:, 2] << 24)).view(np.int32) >> 8
    return (packed / 8388608.0).astype(np.float32)


def to_float(data: bytes, sample_format: str) -> NDArray[np.float32]:
    """Flat float32 samples from bytes holding a whole number of samples."""
    width = sample_width(sample_format)
    if len(data) % width:
        raise ValueError(f"{len(data)} bytes is not a whole number of {sample_format} samples")
    if sample_format == "s16le":
        return decode(data, "linear16")
    if sample_format == "s32le":
        return decode(data, "linear32")
    if sample_format in ("mulaw", "alaw"):
        return decode(data, sample_format)
    if sample_format == "s24le":
        return _s24_to_float(data)
    if sample_format == "u8":
        ints = np.frombuffer(data, dtype=np.uint8).astype(np.float32)
        return (ints - 128.0) / np.float32(128.0)
    dtype = "<f4" if sample_format == "f32le" else "<f8"
    return np.frombuffer(data, dtype=dtype).astype(np.float32)


class PcmDeinterleaver:
    """Turns arbitrary byte chunks into (frames, channels) float32 arrays.

    Reads from a pipe end at any byte, so a partial sample frame is held until the
    rest of it arrives; nothing else is buffered.
    """

    def __init__(self, sample_format: str, channels: int) -> None:
        if channels < 1:
            raise ValueError("channels must be at least 1")
        self.sample_format = sample_format
        self.channels = channels
        self.frame_bytes = sample_width(sample_format) * channels
        self._carry = b""

    def feed(self, data: bytes) -> NDArray[np.float32]:
        """All whole frames now available; shape (n, channels), n may be 0."""
        if self._carry:
            data = self._carry + data
        usable = len(data) - len(data) % self.frame_bytes
        self._carry = data[usable:]
        flat = to_float(data[:usable], self.sample_format)
        return flat.reshape(-1, self.channels)
