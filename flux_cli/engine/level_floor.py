"""The call's background level, so that babble under one voice is not taken for a second voice.

Why: over loud babble (other people talking, 10 dB under the caller) the VAD hears speech in
the caller's pauses, and the speaker encoder's vectors of those stretches form a group of their
own: the call's voices (``voice_profiles.py``) took the babble for a second person and handed
the caller's turn over to it (``benchmarks/results/wer_baseline.md``, stop 32: one noisy call's
WER 1.3% -> 12.3%). Babble is continuous, so it sets the call's floor: a low percentile of the
32 ms windows' levels over the last seconds. A voice is heard well above that floor (train
splits of ``noisy10``: half its blocks 9.6 dB or more above it, 95% 4.5 dB or more); a stretch
of babble alone is not (half 3.2 dB or less, 95% 4.8 dB or less: ``benchmarks.voice_floor``).
A block of speech less than ``over_floor_db`` above the floor is neither kept as a voice nor
judged as one. In a quiet call the floor is the pauses' hiss or the quiet between words, more
than 20 dB under 95% of the voices' blocks (train splits of the clean sets), and nothing
changes (``benchmarks.voice_floor``: the same calls' voices known at every gate tried).

Pure numpy, no I/O: the caller passes each VAD window and asks about a block's audio.
"""

from __future__ import annotations

import bisect
import math

import numpy as np

from flux_cli.engine.interfaces import Audio


def level_db(audio: Audio) -> float:
    """Mean power in dB (full scale 0 dB; silence -120 dB)."""
    power = float(np.mean(np.square(audio, dtype=np.float64))) if len(audio) else 0.0
    return 10.0 * float(np.log10(power + 1e-12))


class LevelFloor:
    """The ``percentile`` of the last ``windows`` VAD windows' levels: the call's floor.

    The floor is asked at every 32 ms window (the pause gate), so the levels are kept twice:
    in arrival order (a ring, to know which one leaves) and sorted (a list kept in order by
    bisection), and the percentile is read off the sorted list with numpy's own "linear"
    arithmetic: the same float, bit for bit, as ``np.percentile`` over the window
    (``tests/test_level_floor.py``), for a few microseconds instead of ~80."""

    def __init__(self, windows: int, percentile: float) -> None:
        self._fraction = percentile / 100.0  # as np.percentile divides it
        self._levels = np.empty(windows, dtype=np.float64)
        self._sorted: list[float] = []
        self._count = 0  # windows ever heard

    def step(self, window: Audio) -> float:
        """Take one window's level in (and return it)."""
        level = level_db(window)
        slot = self._count % len(self._levels)
        if self._count >= len(self._levels):
            del self._sorted[bisect.bisect_left(self._sorted, float(self._levels[slot]))]
        self._levels[slot] = level
        bisect.insort(self._sorted, level)
        self._count += 1
        return level

    def floor(self) -> float | None:
        """None before any window was heard."""
        if not self._count:
            return None
        return linear_percentile(self._sorted, self._fraction)

    def above(self, audio: Audio, by_db: float) -> bool:
        """Is ``audio`` heard at least ``by_db`` above the floor?"""
        floor = self.floor()
        return floor is None or level_db(audio) - floor >= by_db


def linear_percentile(ordered: list[float], fraction: float) -> float:
    """``np.percentile(ordered, 100 * fraction)`` of a sorted list, with the same arithmetic
    (NumPy's "linear" method: the virtual index (n - 1) q, and its lerp, which counts back
    from the upper neighbour when the weight is 0.5 or more)."""
    n = len(ordered)
    virtual = (n - 1) * fraction
    below = min(max(math.floor(virtual), 0), n - 1)
    above = min(below + 1, n - 1)
    gamma = virtual - below
    a, b = ordered[below], ordered[above]
    if gamma >= 0.5:
        return b - (b - a) * (1 - gamma)
    return a + (b - a) * gamma
