"""A pause under babble: the caller's level falling back to the call's floor; and speech the
VAD hesitates over, heard far above it.

Why: over loud babble (other people talking, 10 dB under the caller) the VAD hears speech in
the caller's pauses, so the turn never pauses and its end is missed (``noisy10`` missed 39% of
its turn ends). The caller is heard well above the call's floor (``level_floor.py``; train
splits: half its blocks 9.6 dB or more over it), babble alone is not (half 3.2 dB or less). So
a window counts as the caller's speech only while the level, smoothed over a few windows, is
``open_db`` over the floor to begin and ``stay_db`` to go on. In a quiet call the floor is the
pauses' hiss, far under any voice, and the gate stays open through every word.

The other way round (stop 41): Silero VAD v6 (the 16 kHz graph) is under-confident on
phone-band speech. On a quiet phone line whole sentences 25-40 dB over the line's floor never
reach the onset (0.5): "So do you need to send a technician?" peaks at 0.49 (``tel8k`` test:
the turn is never heard, and the turn before it is never ended). A window the VAD gives at
least its offset (0.35, where speech already goes on) and whose smoothed level is ``clear_db``
over the floor is ``clear``: it starts speech as a window at the onset does
(``speech_tracker.py``). Babble is never that far over the floor, and a quiet call's pauses
are at it.

Pure, no I/O: the session hands each window's level and the floor.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PauseGateConfig:
    open_db: float = 7.0  # the smoothed level this far over the floor: the caller speaks ...
    stay_db: float = 3.0  # ... and goes on speaking down to this far over it
    smooth_windows: int = 5  # 160 ms of 32 ms windows, averaged in power
    settle_s: float = 2.0  # the floor needs this much of the call before it is trusted
    # this far over the floor, a window the VAD gives its offset starts speech; None: never
    clear_db: float | None = 20.0


class PauseGate:
    """Window levels in, "loud enough to be the caller" out (with hysteresis)."""

    def __init__(self, config: PauseGateConfig, settle_windows: int) -> None:
        self.config = config
        self._powers: deque[float] = deque(maxlen=config.smooth_windows)
        self._settle = settle_windows
        self._seen = 0
        self.loud = True
        self.clear = False  # far over the floor: the VAD's offset is enough to start speech

    def step(self, level_db: float, floor_db: float | None) -> bool:
        """One window's level (dB) and the call's floor now: is it loud enough?"""
        self._powers.append(10.0 ** (level_db / 10.0))
        self._seen += 1
        if floor_db is None or self._seen <= self._settle:
            self.loud, self.clear = True, False
            return True
        smoothed = 10.0 * float(np.log10(sum(self._powers) / len(self._powers) + 1e-12))
        over = smoothed - floor_db
        c = self.config
        self.loud = over >= (c.stay_db if self.loud else c.open_db)
        self.clear = c.clear_db is not None and over >= c.clear_db
        return self.loud
