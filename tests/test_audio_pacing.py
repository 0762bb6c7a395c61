"""Pacer: absolute schedule with a fake clock, plus one generous real-clock check."""

from __future__ import annotations

import time

import pytest
from conftest import timeout

from flux_cli.audio.pacing import Pacer


class FakeClock:
    """A clock that only moves when slept on (or when a test says work took time)."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_absolute_schedule_absorbs_slow_sends() -> None:
    clock = FakeClock()
    pacer = Pacer(0.08, 1.0, clock=clock, sleep=clock.sleep)
    pacer.wait(0)
    assert clock.sleeps == []
    wake_times = []
    for i in range(1, 6):
        clock.now += 0.03  # sending the frame took 30 ms
        pacer.wait(i)
        wake_times.append(clock.now)
    # Each wait ends exactly on the schedule, not 30 ms later each time.
    assert wake_times == pytest.approx([100.0 + 0.08 * i for i in range(1, 6)])
    assert clock.sleeps == pytest.approx([0.05] * 5)


def test_late_frames_do_not_sleep_and_catch_up() -> None:
    clock = FakeClock()
    pacer = Pacer(0.08, 1.0, clock=clock, sleep=clock.sleep)
    pacer.wait(0)
    clock.now += 0.5  # a stall of about six frames
    for i in range(1, 7):
        pacer.wait(i)
    assert clock.sleeps == []
    pacer.wait(7)
    assert clock.now == pytest.approx(100.0 + 0.56)


def test_speed_scales_the_schedule() -> None:
    clock = FakeClock()
    pacer = Pacer(0.08, 2.0, clock=clock, sleep=clock.sleep)
    assert pacer.schedule_time(10) == pytest.approx(100.4)
    pacer.wait(10)
    assert clock.now == pytest.approx(100.4)


def test_speed_zero_never_waits() -> None:
    clock = FakeClock()
    pacer = Pacer(0.08, 0.0, clock=clock, sleep=clock.sleep)
    for i in range(100):
        pacer.wait(i)
    assert clock.sleeps == []


def test_explicit_start() -> None:
    clock = FakeClock()
    pacer = Pacer(0.1, 1.0, clock=clock, sleep=clock.sleep)
    pacer.start(at=50.0)
    assert pacer.schedule_time(3) == pytest.approx(50.3)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="speed"):
        Pacer(0.08, -1.0)
    with pytest.raises(ValueError, match="frame_seconds"):
        Pacer(0.0)


def test_real_clock() -> None:
    pacer = Pacer(0.02, 1.0)
    start = time.monotonic()
    for i in range(11):
        pacer.wait(i)
    elapsed = time.monotonic() - start
    assert 0.19 <= elapsed < timeout(2.0)
