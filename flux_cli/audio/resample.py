"""Streaming sample-rate conversion, so a live source is resampled block by block.

soxr keeps its filter state between calls, so block boundaries leave no clicks and the
total length comes out as if the whole signal had been resampled at once.
"""

from __future__ import annotations

import numpy as np
import soxr
from numpy.typing import NDArray

QUALITY = "HQ"


class StreamResampler:
    """Mono float32 in at ``in_rate``, out at ``out_rate``; a passthrough when they match."""

    def __init__(self, in_rate: int, out_rate: int) -> None:
        if in_rate <= 0 or out_rate <= 0:
            raise ValueError(f"sample rates must be positive, got {in_rate} -> {out_rate}")
        self.in_rate = in_rate
        self.out_rate = out_rate
        self._stream: soxr.ResampleStream | None = None
        if in_rate != out_rate:
            self._stream = soxr.ResampleStream(
                in_rate, out_rate, 1, dtype="float32", quality=QUALITY
            )

    @property
    def passthrough(self) -> bool:
        """True when no conversion happens (blocks come back unchanged)."""
        return self._stream is None

    def process(self, block: NDArray[np.float32]) -> NDArray[np.float32]:
        """Resample one block; the output may be shorter or empty while the filter fills."""
        block = np.ascontiguousarray(block, dtype=np.float32)
        if self._stream is None:
            return block
        return self._stream.resample_chunk(block)

    def flush(self) -> NDArray[np.float32]:
        """The samples still inside the filter; call once at the end of the stream."""
        if self._stream is None:
            return np.zeros(0, dtype=np.float32)
        return self._stream.resample_chunk(np.zeros(0, dtype=np.float32), last=True)
