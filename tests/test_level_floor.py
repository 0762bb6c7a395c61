"""The call's floor: babble under one voice sets it; a voice is heard well above it."""

from __future__ import annotations

import numpy as np

from flux_cli.engine.interfaces import VAD_WINDOW
from flux_cli.engine.level_floor import LevelFloor, level_db


def tone(amplitude: float, windows: int) -> np.ndarray:
    """A square wave of 400 Hz: its power is ``amplitude`` squared."""
    t = np.arange(windows * VAD_WINDOW)
    return (amplitude * np.where(t // 20 % 2 == 0, 1.0, -1.0)).astype(np.float32)


def known(floor: LevelFloor) -> float:
    bottom = floor.floor()
    assert bottom is not None
    return bottom


def test_level_is_mean_power_in_db() -> None:
    assert abs(level_db(tone(1.0, 1))) < 1e-4
    assert abs(level_db(tone(0.1, 2)) - -20.0) < 1e-4
    assert level_db(np.zeros(VAD_WINDOW, np.float32)) == -120.0
    assert level_db(np.zeros(0, np.float32)) == -120.0


def test_the_floor_is_a_low_percentile_of_the_recent_windows() -> None:
    floor = LevelFloor(windows=10, percentile=10.0)
    assert floor.floor() is None
    assert floor.above(tone(0.001, 1), 5.0)  # nothing heard yet: no floor to be under
    for amplitude in [0.01] * 2 + [0.3] * 8:  # 20% of the windows at -40 dB, the rest -10.5
        floor.step(tone(amplitude, 1))
    assert abs(known(floor) - -40.0) < 0.1
    for _ in range(10):  # only the last ten windows count
        floor.step(tone(0.1, 1))
    assert abs(known(floor) - -20.0) < 1e-4


def test_babble_at_the_floor_is_not_above_it_and_a_voice_over_it_is() -> None:
    floor = LevelFloor(windows=250, percentile=10.0)
    babble, voice = 0.05, 0.2  # 12 dB apart
    for i in range(250):  # babble throughout, a voice over it two windows in three
        floor.step(tone(babble if i % 3 == 0 else np.hypot(babble, voice), 1))
    block = 15  # 0.48 s
    assert not floor.above(tone(babble, block), 5.0)
    assert floor.above(tone(np.hypot(babble, voice), block), 5.0)


def test_the_floor_is_numpys_percentile_bit_for_bit_at_every_window() -> None:
    """The sorted window gives exactly what ``np.percentile`` over the ring gave (the engine's
    decisions hang on it), through warm-up, wrap-around, ties and silence."""
    rng = np.random.default_rng(7)
    for windows, percentile in ((250, 10.0), (10, 10.0), (7, 50.0), (5, 0.0), (5, 100.0),
                                (40, 33.3)):
        floor = LevelFloor(windows=windows, percentile=percentile)
        levels: list[float] = []
        for i in range(3 * windows + 11):
            amplitude = 0.0 if i % 9 == 0 else float(rng.choice([0.01, 0.05, rng.random()]))
            window = (amplitude * rng.standard_normal(VAD_WINDOW)).astype(np.float32)
            levels.append(floor.step(window))
            expected = float(np.percentile(np.array(levels[-windows:]), percentile))
            assert known(floor) == expected, (windows, percentile, i)
