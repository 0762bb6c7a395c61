"""The evaluation as plain text and as JSON: the cells the Rich tables show too.

Tables are built from ``threshold_cells`` / ``call_cells`` so the terminal (``render``) and
the plain output say the same thing.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from flux_cli.evaluate.results import RunSummary
from flux_cli.evaluate.scoring import CallScore, Case
from flux_cli.evaluate.tradeoff import OperatingPoint, Recommendation
from flux_cli.evaluate.truth import CallTruth
from flux_cli.render.summary import percentile

THRESHOLD_COLUMNS = ("run", "eot_threshold", "false cut-offs", "missed ends", "p50", "p90",
                     "eager p50", "vs agent p50", "mid-speech")
CALL_COLUMNS = ("call", "holds", "cut-offs", "shifts", "missed", "p50", "agent gap p50",
                "vs agent p50")
CASE_COLUMNS = ("what", "call", "at", "seconds", "transcript")


@dataclass
class Evaluation:
    """Everything one ``flux eval`` found: what the truth is, and each run's points."""

    truths: list[CallTruth]
    runs: list[RunSummary]
    recommendation: Recommendation | None = None
    worst: list[Case] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    interrupted: bool = False
    calls_given: int = 0


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f} s"


def _signed(value: float | None) -> str:
    return "-" if value is None else f"{value:+.2f} s"


def clock(seconds: float) -> str:
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes)}:{rest:04.1f}"


def threshold_cells(point: OperatingPoint) -> list[str]:
    s = point.score
    label = point.label + (" (replayed)" if point.replayed else "")
    return [
        point.run, label,
        f"{s.cutoffs}/{s.holds} ({s.cutoff_rate:.0%})",
        f"{s.missed}/{s.shifts} ({s.missed_rate:.0%})",
        _s(point.p50), _s(point.p90), _s(percentile(s.eager_latencies, 50)),
        _signed(percentile(s.versus_agent, 50)), str(s.mid_speech),
    ]


def call_cells(score: CallScore) -> list[str]:
    return [
        score.call, str(score.holds), str(score.cutoffs), str(score.shifts), str(score.missed),
        _s(percentile(score.latencies, 50)), _s(percentile(score.agent_gaps, 50)),
        _signed(percentile(score.versus_agent, 50)),
    ]


def case_cells(case: Case) -> list[str]:
    return [case.kind, case.call, clock(case.at), f"{case.seconds:.2f} s", case.transcript]


def truth_lines(evaluation: Evaluation) -> list[str]:
    truths = evaluation.truths
    holds = sum(len(t.holds) for t in truths)
    backchannels = sum(t.backchannels for t in truths)
    shifts = sum(len(t.shifts) for t in truths)
    overlaps = sum(t.overlaps for t in truths)
    lines = [f"truth: {len(truths)} call{'s' if len(truths) != 1 else ''}, {holds} holds "
             f"({backchannels} with a backchannel), {shifts} shifts, {overlaps} overlaps "
             "(not scored)"]
    for method in dict.fromkeys(t.method for t in truths):
        lines.append(f"  how: {method}")
    for run in evaluation.runs:
        lines.append(f"{run.name}: {run.how}")
    return lines


def agent_line(point: OperatingPoint) -> str | None:
    """"Your agent answered after 1.4 s; the server would have allowed 0.6 s"."""
    gap = percentile(point.score.agent_gaps, 50)
    if gap is None or point.p50 is None:
        return None
    return (f"your agent answered after {gap:.2f} s (median); {point.run} at eot_threshold "
            f"{point.label} would have allowed {point.p50:.2f} s")


def summary_tail(evaluation: Evaluation) -> list[str]:
    lines = []
    rec = evaluation.recommendation
    if rec is not None:
        lines.append(f"recommended: {rec.reason}")
        if rec.point is not None:
            said = agent_line(rec.point)
            if said:
                lines.append(said)
    scored = len({c.call for r in evaluation.runs for t in r.results for c in t.calls})
    if evaluation.interrupted:
        lines.append(f"interrupted: scored {scored} of {evaluation.calls_given} calls")
    for call, message in evaluation.failed:
        lines.append(f"failed: {call}: {message}")
    return lines


def _table(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(columns)]
    out = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip()]
    for row in rows:
        out.append("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
    return out


def per_call_result(evaluation: Evaluation) -> tuple[str, list[CallScore]] | None:
    """The per-call table's threshold: the recommended one, else the first run's first."""
    if not evaluation.runs or not evaluation.runs[0].results:
        return None
    rec = evaluation.recommendation
    for result in evaluation.runs[0].results:
        if rec is not None and rec.point is result.point:
            return result.point.label, result.calls
    first = evaluation.runs[0].results[0]
    return first.point.label, first.calls


def text_report(evaluation: Evaluation) -> str:
    lines = [*truth_lines(evaluation), ""]
    points = [p for run in evaluation.runs for p in run.points]
    if points:
        lines += [*_table(THRESHOLD_COLUMNS, [threshold_cells(p) for p in points]), ""]
    per_call = per_call_result(evaluation)
    if per_call is not None and per_call[1]:
        lines.append(f"per call, eot_threshold {per_call[0]}:")
        lines += [*_table(CALL_COLUMNS, [call_cells(c) for c in per_call[1]]), ""]
    if evaluation.worst:
        lines.append("worst cases (listen to these first):")
        lines += [*_table(CASE_COLUMNS, [case_cells(c) for c in evaluation.worst]), ""]
    lines += summary_tail(evaluation)
    return "\n".join(lines) + "\n"


def to_dict(evaluation: Evaluation) -> dict[str, Any]:
    rec = evaluation.recommendation
    return {
        "truth": [t.to_dict() for t in evaluation.truths],
        "runs": [r.to_dict() for r in evaluation.runs],
        "recommendation": None if rec is None else {
            "target_cutoffs": rec.target,
            "eot_threshold": None if rec.point is None else rec.point.threshold,
            "reason": rec.reason,
        },
        "worst": [c.to_dict() for c in evaluation.worst],
        "failed": [{"call": c, "error": m} for c, m in evaluation.failed],
        "interrupted": evaluation.interrupted,
    }


def json_report(evaluation: Evaluation) -> str:
    return json.dumps(to_dict(evaluation), indent=2) + "\n"
