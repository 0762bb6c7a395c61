"""Streaming DC removal, for telephone-band audio.

Why: the reference G.711 encoders round every sample the same way, so µ-law audio comes back
with a small constant offset (-4.8e-5 of full scale on the ``tel8k`` calls, about -86 dBFS).
Silero VAD v6 hears it in band-limited speech, which has nothing else under 300 Hz: of the
``tel8k`` train calls' 112 turns sent as µ-law at 8 kHz, 96 reach the VAD's onset with the
offset and 109 without it (``python -m benchmarks.phone_offset``). Full-band speech is not
moved by an offset that size (the ``real``, ``neural``, ``synthetic`` and ``noisy10`` train
calls: the same turns reach the onset with their own offset removed). A-law's offset is
removed too, but what A-law costs at the VAD is not its offset (101 of 112 either way).

The offset is the mean of the last ``window_s`` of input, taken as zero before the stream
began (so the first samples pass unchanged and the offset is fully removed after one
window); subtracting a half-second mean leaves speech (above 50 Hz: under 1.3% of the
boxcar's gain) as it was. Pure numpy, no delay, block sizes do not change the output.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

WINDOW_S = 0.5


class DcBlocker:
    """Mono float32 in, the same minus its running mean over ``window_s``, block by block."""

    def __init__(self, sample_rate: int, window_s: float = WINDOW_S) -> None:
        self.window = max(1, round(sample_rate * window_s))
        self._history = np.zeros(self.window, dtype=np.float64)  # the last ``window`` inputs

    def process(self, block: NDArray[np.float32]) -> NDArray[np.float32]:
        x = np.asarray(block, dtype=np.float64).reshape(-1)
        if x.size == 0:
            return np.zeros(0, dtype=np.float32)
        joined = np.concatenate([self._history, x])
        sums = np.cumsum(joined)
        # new sample i is joined[window + i]; the window ending there is joined[i + 1 :
        # window + i + 1], whose sum is sums[window + i] - sums[i]
        running = sums[self.window:] - sums[: x.size]
        self._history = joined[-self.window:]
        return (x - running / self.window).astype(np.float32)
