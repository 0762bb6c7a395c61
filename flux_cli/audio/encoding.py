"""Wire encodings: float32 samples in, the bytes Flux expects out (and back, for the server).

G.711 companding follows the classic segment/quantisation algorithm (ITU-T G.711, as in the
widely used Sun reference implementation), so our bytes match what telephony tools produce.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

ENCODINGS = ("linear16", "linear32", "mulaw", "alaw")

_BYTES_PER_SAMPLE = {"linear16": 2, "linear32": 4, "mulaw": 1, "alaw": 1}

# Upper bounds of the eight G.711 segments (on 14-bit magnitudes for mu-law, 13-bit for A-law).
_ULAW_SEG_END = np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF], dtype=np.int32)
_ALAW_SEG_END = np.array([0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF], dtype=np.int32)
_ULAW_BIAS = 0x84
_ULAW_CLIP = 8159


def _check(encoding: str) -> None:
    if encoding not in _BYTES_PER_SAMPLE:
        raise ValueError(f"unknown encoding {encoding!r}; expected one of {', '.join(ENCODINGS)}")


def bytes_per_sample(encoding: str) -> int:
    """Bytes one mono sample takes on the wire."""
    _check(encoding)
    return _BYTES_PER_SAMPLE[encoding]


def to_int16(samples: NDArray[np.float32]) -> NDArray[np.int16]:
    """Quantise [-1, 1) floats to int16, clipping rather than wrapping on overload."""
    scaled = np.rint(np.nan_to_num(np.asarray(samples, dtype=np.float64)) * 32768.0)
    return np.clip(scaled, -32768, 32767).astype(np.int16)


def _ulaw_encode(pcm16: NDArray[np.int16]) -> NDArray[np.uint8]:
    pcm = pcm16.astype(np.int32) >> 2
    negative = pcm < 0
    mask = np.where(negative, 0x7F, 0xFF)
    magnitude = np.minimum(np.where(negative, -pcm, pcm), _ULAW_CLIP) + (_ULAW_BIAS >> 2)
    seg = np.searchsorted(_ULAW_SEG_END, magnitude, side="left").astype(np.int32)
    code = (seg << 4) | ((magnitude >> np.minimum(seg + 1, 31)) & 0xF)
    code = np.where(seg >= 8, 0x7F, code)
    return (code ^ mask).astype(np.uint8)


def _alaw_encode(pcm16: NDArray[np.int16]) -> NDArray[np.uint8]:
    pcm = pcm16.astype(np.int32) >> 3
    positive = pcm >= 0
    mask = np.where(positive, 0xD5, 0x55)
    magnitude = np.where(positive, pcm, -pcm - 1)
    seg = np.searchsorted(_ALAW_SEG_END, magnitude, side="left").astype(np.int32)
    shift = np.where(seg < 2, 1, np.minimum(seg, 31))
    code = (seg << 4) | ((magnitude >> shift) & 0xF)
    code = np.where(seg >= 8, 0x7F, code)
    return (code ^ mask).astype(np.uint8)


def _ulaw_table() -> NDArray[np.float32]:
    u = ~np.arange(256, dtype=np.int32) & 0xFF
    t = (((u & 0xF) << 3) + _ULAW_BIAS) << ((u & 0x70) >> 4)
    linear = np.where(u & 0x80, _ULAW_BIAS - t, t - _ULAW_BIAS)
    return (linear / 32768.0).astype(np.float32)


def _alaw_table() -> NDArray[np.float32]:
    a = np.arange(256, dtype=np.int32) ^ 0x55
    t = (a & 0xF) << 4
    seg = (a & 0x70) >> 4
    t = np.where(seg == 0, t + 8, (t + 0x108) << np.maximum(seg - 1, 0))
    linear = np.where(a & 0x80, t, -t)
    return (linear / 32768.0).astype(np.float32)


# Decoding is a 256-entry lookup; built once because the server decodes every frame.
_ULAW_TO_FLOAT = _ulaw_table()
_ALAW_TO_FLOAT = _alaw_table()


def encode(samples: NDArray[np.float32], encoding: str) -> bytes:
    """Mono float32 samples to wire bytes (little-endian PCM or G.711)."""
    _check(encoding)
    if encoding == "linear32":
        scaled = np.rint(np.nan_to_num(np.asarray(samples, dtype=np.float64)) * 2147483648.0)
        return np.clip(scaled, -2147483648, 2147483647).astype("<i4").tobytes()
    pcm16 = to_int16(samples)
    if encoding == "linear16":
        return pcm16.astype("<i2").tobytes()
    if encoding == "mulaw":
        return _ulaw_encode(pcm16).tobytes()
    return _alaw_encode(pcm16).tobytes()


def decode(data: bytes, encoding: str) -> NDArray[np.float32]:
    """Wire bytes to mono float32; ``data`` must hold a whole number of samples (maybe zero)."""
    width = bytes_per_sample(encoding)
    if len(data) % width:
        raise ValueError(
            f"{len(data)} bytes is not a whole number of {encoding} samples ({width} bytes each)"
        )
    if encoding == "linear16":
        return (np.frombuffer(data, dtype="<i2") / np.float32(32768.0)).astype(np.float32)
    if encoding == "linear32":
        ints = np.frombuffer(data, dtype="<i4").astype(np.float64)
        return (ints / 2147483648.0).astype(np.float32)
    codes = np.frombuffer(data, dtype=np.uint8)
    table = _ULAW_TO_FLOAT if encoding == "mulaw" else _ALAW_TO_FLOAT
    return table[codes]
