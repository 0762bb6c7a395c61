"""Cutting a stream into fixed-size frames (80 ms is what Flux recommends).

The last partial frame is sent as is, never padded, so the server hears exactly the audio
we have and audio time on both sides agrees.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray


def frame_samples(sample_rate: int, chunk_ms: int) -> int:
    """Samples in one frame of ``chunk_ms`` at ``sample_rate`` (16000 Hz, 80 ms -> 1280)."""
    if sample_rate <= 0 or chunk_ms <= 0:
        raise ValueError(
            f"need a positive rate and chunk size, got {sample_rate} Hz, {chunk_ms} ms"
        )
    return max(1, round(sample_rate * chunk_ms / 1000))


class Framer:
    """Blocks of any length in, frames of exactly ``frame_samples`` out."""

    def __init__(self, frame_samples: int) -> None:
        if frame_samples < 1:
            raise ValueError("frame_samples must be at least 1")
        self.frame_samples = frame_samples
        self._pending: list[NDArray[np.float32]] = []
        self._pending_len = 0

    def push(self, block: NDArray[np.float32]) -> list[NDArray[np.float32]]:
        """Every whole frame now available (possibly none)."""
        if len(block) == 0:
            return []
        self._pending.append(block)
        self._pending_len += len(block)
        if self._pending_len < self.frame_samples:
            return []
        joined = np.concatenate(self._pending) if len(self._pending) > 1 else self._pending[0]
        n = self._pending_len // self.frame_samples * self.frame_samples
        frames = [joined[i : i + self.frame_samples] for i in range(0, n, self.frame_samples)]
        rest = joined[n:]
        self._pending = [rest] if len(rest) else []
        self._pending_len = len(rest)
        return frames

    def flush(self) -> NDArray[np.float32] | None:
        """The final partial frame, or None if nothing is left."""
        if not self._pending_len:
            return None
        rest = np.concatenate(self._pending) if len(self._pending) > 1 else self._pending[0]
        self._pending, self._pending_len = [], 0
        return rest
