"""Sending at the speed of speech (or a multiple of it) on an absolute schedule.

Each frame's send time is computed from the start, not from the previous send, so a slow
send or a late wake-up is made up on the next frame instead of piling up as drift.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class Pacer:
    """Waits until frame ``index`` is due: ``start + index * frame_seconds / speed``.

    ``speed`` 1 is real time, 2 twice as fast, 0 as fast as possible (never waits).
    The schedule starts at the first ``wait``/``schedule_time`` call or at ``start()``.
    """

    def __init__(
        self,
        frame_seconds: float,
        speed: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if frame_seconds <= 0:
            raise ValueError(f"frame_seconds must be positive, got {frame_seconds}")
        if speed < 0:
            raise ValueError(f"speed must be 0 (no pacing) or positive, got {speed}")
        self.frame_seconds = frame_seconds
        self.speed = speed
        self._clock = clock
        self._sleep = sleep
        self._start: float | None = None

    def start(self, at: float | None = None) -> None:
        """Fix the schedule's origin (now, unless given)."""
        self._start = self._clock() if at is None else at

    def schedule_time(self, index: int) -> float:
        """The clock time at which frame ``index`` is due."""
        if self._start is None:
            self.start()
        assert self._start is not None
        if self.speed == 0:
            return self._start
        return self._start + index * self.frame_seconds / self.speed

    def wait(self, index: int) -> None:
        """Sleep until frame ``index`` is due; return at once if it already is."""
        if self.speed == 0:
            return
        due = self.schedule_time(index)
        while (left := due - self._clock()) > 0:
            self._sleep(left)
