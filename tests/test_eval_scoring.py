"""Scoring literal events against a literal truth: every count and latency by hand."""

from __future__ import annotations

import math

import pytest

from flux_cli.evaluate.events import TurnEvent, transcript_at
from flux_cli.evaluate.scoring import score_call, worst_cases
from flux_cli.evaluate.tradeoff import OperatingPoint, parse_rate, recommend
from flux_cli.evaluate.truth import CallTruth, Hold, Shift
from flux_cli.render.summary import percentile


def _truth() -> CallTruth:
    return CallTruth(
        name="call.wav", duration=12.0,
        holds=[Hold(2.0, 2.6), Hold(5.0, 6.0, backchannel=True)],
        shifts=[Shift(4.0, 4.8, 4.5), Shift(9.0, None, 12.0)],
        speech=[(0.5, 2.0), (2.6, 4.0), (4.5, 5.0), (6.0, 9.0)],
    )


def ev(event: str, at: float, transcript: str = "", conf: float = 0.0) -> TurnEvent:
    return TurnEvent(event, at, conf, transcript)


def test_counts_and_latencies() -> None:
    events = [
        ev("Update", 2.0, "hello"),
        ev("EndOfTurn", 2.3, "hello there"),  # in the first hold: a false cut-off
        ev("EndOfTurn", 3.0, "I"),  # 0.4 s into speech: mid-speech, not in any silence
        ev("EagerEndOfTurn", 4.1, "my order"),  # eager 0.1 s after the speaker stopped
        ev("EndOfTurn", 4.25, "my order"),  # the shift, 0.25 s; the agent answered at 4.8
        ev("EndOfTurn", 4.7, ""),  # a second end in the same silence: extra
        ev("EagerEndOfTurn", 5.5, "and"),  # a speculative reply in a hold
        ev("TurnResumed", 6.1, "and"),
        ev("Update", 8.0, "it never came"),  # the last shift is never ended: missed
    ]
    score = score_call(_truth(), events)
    assert (score.holds, score.cutoffs, score.backchannel_cutoffs) == (2, 1, 0)
    assert (score.shifts, score.missed) == (2, 1)
    assert score.latencies == [pytest.approx(0.25)]
    assert score.eager_latencies == [pytest.approx(0.1)]
    assert score.versus_agent == [pytest.approx(-0.55)]
    assert score.agent_gaps == [pytest.approx(0.8)]
    assert (score.eager_in_holds, score.resumed, score.mid_speech, score.extra) == (1, 1, 1, 1)
    assert score.cutoff_rate == 0.5 and score.missed_rate == 0.5
    worst = worst_cases(score)
    assert [(c.kind, c.at) for c in worst] == [("cut-off", 2.0), ("missed", 9.0), ("slow", 4.0)]
    assert worst[0].transcript == "hello there" and worst[0].seconds == pytest.approx(0.3)
    assert worst[1].transcript == "it never came" and worst[1].seconds == pytest.approx(3.0)


def test_window_edges() -> None:
    truth = _truth()
    # EARLY (0.15 s) before the speaker stopped still belongs to the silence ...
    assert score_call(truth, [ev("EndOfTurn", 1.86)]).cutoffs == 1
    # ... earlier is mid-speech
    assert score_call(truth, [ev("EndOfTurn", 1.84)]).mid_speech == 1
    # up to slack (0.3 s) after speech resumed still counts as the hold's
    assert score_call(truth, [ev("EndOfTurn", 2.89)]).cutoffs == 1
    assert score_call(truth, [ev("EndOfTurn", 2.9)]).mid_speech == 1
    # a backchannel hold cut is counted, and counted apart
    backchannel = score_call(truth, [ev("EndOfTurn", 5.4)])
    assert (backchannel.cutoffs, backchannel.backchannel_cutoffs) == (1, 1)
    # a shift's end after the speaker spoke again (+ slack) is too late: missed
    late = score_call(truth, [ev("EndOfTurn", 4.81)])
    assert late.missed == 2 and late.mid_speech == 1


def test_transcript_at() -> None:
    events = [ev("Update", 1.0, "a"), ev("EndOfTurn", 2.0, "a b"), ev("Update", 3.0, "c")]
    assert transcript_at(events, 2.0) == "a b"
    assert transcript_at(events, 2.5) == ""
    assert transcript_at(events, 3.5) == "c"


def test_percentile() -> None:
    assert percentile([], 50) is None
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert percentile([1.0, 2.0], 90) == pytest.approx(1.9)
    assert percentile([1.0, math.inf], 50) == math.inf
    assert percentile([1.0, 2.0, math.inf], 50) == 2.0


def _point(threshold: float, cut: int, latencies: list[float], missed: int = 0) -> OperatingPoint:
    truth = CallTruth("c", 1.0, holds=[Hold(0, 1)] * 10)
    score = score_call(truth, [])
    score.cutoffs, score.latencies, score.missed = cut, latencies, missed
    score.shifts = len(latencies) + missed
    return OperatingPoint("local", threshold, False, score)


def test_recommendation() -> None:
    points = [_point(0.6, 3, [0.3, 0.4]), _point(0.7, 1, [0.5, 0.6]),
              _point(0.8, 0, [0.2], missed=3), _point(0.9, 0, [0.9, 1.0])]
    chosen = recommend(points, 0.10)
    # 0.8 is fast only because it misses most ends: a miss counts as never answered
    assert chosen.point is not None and chosen.point.threshold == 0.7
    assert "10.0% false cut-offs" in chosen.reason
    assert recommend(points, 0.0).point is points[3]
    none = recommend(points[:1], 0.05)
    assert none.point is None and "lowest: 30.0% at 0.6" in none.reason


def test_parse_rate() -> None:
    assert parse_rate("5%") == pytest.approx(0.05)
    assert parse_rate("0.1") == pytest.approx(0.1)
    for bad in ("150%", "x", "-1"):
        with pytest.raises(ValueError):
            parse_rate(bad)
