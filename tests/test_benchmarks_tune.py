"""The tuning replay must end a pause where the live detector would: same formula, same clamps."""

from __future__ import annotations

import pytest

from benchmarks.tune import _end_silence
from flux_cli.server.detector import DEFAULT_CONFIG, Detector

DECIDED = 0.192  # silence at the decision point
TIMEOUT = 5.0


@pytest.mark.parametrize("base", [-4.0, -3.0, -1.5, -0.5, 0.0])
def test_replayed_end_is_where_the_detector_reaches_the_threshold(base: float) -> None:
    silence = _end_silence(base, DECIDED, DEFAULT_CONFIG, 0.7, TIMEOUT)
    assert DECIDED <= silence < TIMEOUT
    assert Detector(DEFAULT_CONFIG).paused(base, silence) == pytest.approx(0.7, abs=1e-9)


def test_confident_pause_ends_at_the_decision_point() -> None:
    assert _end_silence(2.0, DECIDED, DEFAULT_CONFIG, 0.7, TIMEOUT) == DECIDED
    assert Detector(DEFAULT_CONFIG).paused(2.0, DECIDED) >= 0.7


def test_hopeless_pause_ends_at_the_timeout() -> None:
    assert _end_silence(-40.0, DECIDED, DEFAULT_CONFIG, 0.7, TIMEOUT) == TIMEOUT
