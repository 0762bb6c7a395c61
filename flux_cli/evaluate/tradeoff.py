"""One operating point per threshold, and which threshold to ship.

The recommendation answers ``--target-cutoffs 5%``: of the thresholds whose false cut-off
rate is at or under the target, the one with the lowest median latency, where a missed end
counts as never answered (infinitely late), so a threshold cannot look fast by missing the
turn ends it is slow on. This is eot-bench's "latency at a cut-off budget", read per user.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from flux_cli.evaluate.scoring import CallScore
from flux_cli.render.summary import percentile


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


@dataclass(frozen=True)
class OperatingPoint:
    """A run (or a replay) at one ``eot_threshold``, over all the calls scored."""

    run: str  # which server or run ("local", a URL's host, a --compare name)
    threshold: float | None  # None: the server's default
    replayed: bool
    score: CallScore

    @property
    def label(self) -> str:
        return "default" if self.threshold is None else f"{self.threshold:g}"

    @property
    def p50(self) -> float | None:
        return percentile(self.score.latencies, 50)

    @property
    def p90(self) -> float | None:
        return percentile(self.score.latencies, 90)

    @property
    def p50_with_misses(self) -> float:
        """Median latency where a missed end counts as never answered."""
        values = self.score.latencies + [math.inf] * self.score.missed
        found = percentile(values, 50)
        return math.inf if found is None else found

    def to_dict(self) -> dict[str, Any]:
        s = self.score
        return {
            "run": self.run,
            "eot_threshold": self.threshold,
            "replayed": self.replayed,
            "holds": s.holds,
            "false_cutoffs": s.cutoffs,
            "false_cutoff_rate": round(s.cutoff_rate, 4),
            "backchannel_cutoffs": s.backchannel_cutoffs,
            "shifts": s.shifts,
            "missed_ends": s.missed,
            "missed_rate": round(s.missed_rate, 4),
            "latency_p50": _round(self.p50),
            "latency_p90": _round(self.p90),
            "eager_latency_p50": _round(percentile(s.eager_latencies, 50)),
            "eager_latency_p90": _round(percentile(s.eager_latencies, 90)),
            "eager_in_holds": s.eager_in_holds,
            "turn_resumed": s.resumed,
            "mid_speech_ends": s.mid_speech,
            "versus_agent_p50": _round(percentile(s.versus_agent, 50)),
            "agent_gap_p50": _round(percentile(s.agent_gaps, 50)),
        }


def parse_rate(text: str) -> float:
    """``5%`` or ``0.05`` as a fraction; ValueError for anything else or out of 0..1."""
    raw = text.strip()
    value = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
    if not 0 <= value <= 1:
        raise ValueError(f"{text!r} is not a rate between 0% and 100%")
    return value


@dataclass(frozen=True)
class Recommendation:
    point: OperatingPoint | None
    target: float
    reason: str


def recommend(points: Sequence[OperatingPoint], target: float) -> Recommendation:
    """The fastest threshold within the cut-off target (see the module docstring)."""
    fits = [p for p in points if p.score.holds and p.score.cutoff_rate <= target
            and math.isfinite(p.p50_with_misses)]
    if not points or all(p.score.holds == 0 for p in points):
        return Recommendation(None, target, "no holds in these calls: nothing to cut off")
    if not fits:
        best = min(points, key=lambda p: p.score.cutoff_rate)
        return Recommendation(
            None, target,
            f"no threshold tried keeps false cut-offs at or under {target:.0%} "
            f"(lowest: {best.score.cutoff_rate:.1%} at {best.label}); try higher thresholds",
        )
    chosen = min(fits, key=lambda p: (p.p50_with_misses, p.score.cutoff_rate,
                                      -(p.threshold or 0.0)))
    p50 = chosen.p50_with_misses
    return Recommendation(
        chosen, target,
        f"eot_threshold {chosen.label}: {chosen.score.cutoff_rate:.1%} false cut-offs "
        f"(target {target:.0%}), median latency {p50:.2f} s",
    )
