"""From streams' events to operating points: score every call at every threshold.

Pure: the truths and the events go in, ``Evaluation`` comes out, and the outputs (table,
JSON, plot) only read it. A threshold is either run (its own stream per call) or replayed
from the run at a higher threshold (``replay.replay_ends``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from flux_cli.evaluate.events import TurnEvent
from flux_cli.evaluate.replay import replay_ends
from flux_cli.evaluate.scoring import DEFAULT_SLACK, CallScore, score_call
from flux_cli.evaluate.tradeoff import OperatingPoint
from flux_cli.evaluate.truth import CallTruth

SCORE_LISTS = ("latencies", "eager_latencies", "versus_agent", "agent_gaps")
SCORE_COUNTS = ("holds", "cutoffs", "backchannel_cutoffs", "shifts", "missed",
                "eager_in_holds", "resumed", "mid_speech", "extra")


@dataclass
class ThresholdResult:
    point: OperatingPoint
    calls: list[CallScore] = field(default_factory=list)


def score_threshold(
    run: str,
    threshold: float | None,
    truths: Sequence[CallTruth],
    events: Mapping[str, Sequence[TurnEvent]],
    *,
    replayed: bool = False,
    slack: float = DEFAULT_SLACK,
) -> ThresholdResult:
    """Every call that has events, scored at ``threshold`` (replayed from them if asked)."""
    total = CallScore(call="all")
    calls = []
    for truth in truths:
        if truth.name not in events:
            continue
        heard = events[truth.name]
        if replayed and threshold is not None:
            heard = replay_ends(heard, threshold)
        score = score_call(truth, heard, slack)
        calls.append(score)
        total.add(score)
    return ThresholdResult(OperatingPoint(run, threshold, replayed, total), calls)


def score_to_dict(score: CallScore) -> dict[str, Any]:
    out: dict[str, Any] = {"call": score.call}
    out.update({name: getattr(score, name) for name in SCORE_COUNTS})
    out.update({name: [round(v, 3) for v in getattr(score, name)] for name in SCORE_LISTS})
    return out


def score_from_dict(data: Mapping[str, Any]) -> CallScore:
    """A score saved by ``--format json`` (for ``--compare`` with an earlier run)."""
    score = CallScore(call=str(data.get("call", "all")))
    for name in SCORE_COUNTS:
        setattr(score, name, int(data.get(name, 0)))
    for name in SCORE_LISTS:
        setattr(score, name, [float(v) for v in data.get(name, [])])
    return score


@dataclass
class RunSummary:
    """One server (or one earlier run, for ``--compare``): its points, threshold by threshold."""

    name: str
    how: str  # "replayed from one run at eot_threshold 0.9", "one run per threshold"
    results: list[ThresholdResult] = field(default_factory=list)

    @property
    def points(self) -> list[OperatingPoint]:
        return [r.point for r in self.results]

    def to_dict(self) -> dict[str, Any]:
        return {
            "run": self.name,
            "how": self.how,
            "thresholds": [
                {**r.point.to_dict(), "score": score_to_dict(r.point.score),
                 "calls": [score_to_dict(c) for c in r.calls]}
                for r in self.results
            ],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunSummary:
        summary = cls(str(data["run"]), str(data.get("how", "")))
        for item in data.get("thresholds", []):
            threshold = item.get("eot_threshold")
            point = OperatingPoint(
                summary.name, None if threshold is None else float(threshold),
                bool(item.get("replayed", False)), score_from_dict(item["score"]),
            )
            calls = [score_from_dict(c) for c in item.get("calls", [])]
            summary.results.append(ThresholdResult(point, calls))
        return summary
