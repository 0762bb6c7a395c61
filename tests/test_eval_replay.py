"""Threshold replay on literal message streams: which ends a lower threshold would have sent."""

from __future__ import annotations

import math

import pytest

from flux_cli.evaluate.events import TurnEvent
from flux_cli.evaluate.replay import crossing, replay_ends, replayable


def ev(event: str, at: float, conf: float, trigger: str | None = None) -> TurnEvent:
    return TurnEvent(event, at, conf, "words", 0, trigger)


# A run at eot_threshold 0.9: a hold whose confidence peaks at 0.75, then a turn end.
RUN = [
    ev("StartOfTurn", 0.5, 0.02),
    ev("Update", 0.75, 0.02),
    ev("Update", 1.0, 0.3),  # the speaker paused
    ev("Update", 1.25, 0.55),
    ev("Update", 1.5, 0.75),
    ev("Update", 1.75, 0.02),  # ... and went on: a hold
    ev("Update", 2.0, 0.4),  # paused again
    ev("Update", 2.25, 0.65),
    ev("Update", 2.5, 0.85),
    ev("EndOfTurn", 2.7, 0.92, "model"),
    ev("Update", 3.0, 0.0),
    ev("StartOfTurn", 4.0, 0.02),
    ev("Update", 4.25, 0.3),
    ev("EndOfTurn", 9.0, 0.35, "timeout"),  # the silence backstop, at any threshold
]


def _ends(threshold: float) -> list[tuple[float, str | None]]:
    return [(e.at, e.trigger) for e in replay_ends(RUN, threshold) if e.event == "EndOfTurn"]


def test_replay_at_the_run_threshold_gives_the_run() -> None:
    assert _ends(0.9) == [(2.7, "model"), (9.0, "timeout")]


def _between(t0: float, c0: float, t1: float, c1: float, threshold: float) -> float:
    """The logit-linear crossing, written out for the test."""
    def logit(p: float) -> float:
        return math.log(p / (1 - p))

    share = (logit(threshold) - logit(c0)) / (logit(c1) - logit(c0))
    return t0 + share * (t1 - t0)


def test_lower_thresholds() -> None:
    assert _ends(0.8) == [(pytest.approx(_between(2.25, 0.65, 2.5, 0.85, 0.8)), "replay"),
                          (9.0, "timeout")]
    assert _ends(0.7) == [(pytest.approx(_between(1.25, 0.55, 1.5, 0.75, 0.7)), "replay"),
                          (pytest.approx(_between(2.25, 0.65, 2.5, 0.85, 0.7)), "replay"),
                          (9.0, "timeout")]
    assert _ends(0.5) == [(pytest.approx(_between(1.0, 0.3, 1.25, 0.55, 0.5)), "replay"),
                          (pytest.approx(_between(2.0, 0.4, 2.25, 0.65, 0.5)), "replay"),
                          (9.0, "timeout")]
    # the state events stay; the Updates are gone
    kinds = [e.event for e in replay_ends(RUN, 0.7)]
    assert "Update" not in kinds and kinds.count("StartOfTurn") == 2


def test_crossing_edges() -> None:
    after = ev("Update", 2.0, 0.9)
    assert crossing(None, after, 0.8) == 2.0  # nothing before it in the turn
    assert crossing(ev("Update", 1.75, 0.85), after, 0.8) == 2.0  # already above
    assert crossing(ev("Update", 1.75, 0.5), after, 0.9) == pytest.approx(2.0)
    assert 1.75 < crossing(ev("Update", 1.75, 0.5), after, 0.6) < 2.0


def test_replayable() -> None:
    assert replayable(RUN)
    flat = [ev("Update", t / 4, 0.0) for t in range(20)] + [ev("EndOfTurn", 5.0, 0.9)]
    assert not replayable(flat)
