"""The figures of one run, and the turns where two runs of the same audio disagree.

Pure functions over a ``RunLog``; every output format (text, JSON, the Rich table, the plot)
reads the same ``Summary`` and ``TurnRow`` values, so they cannot disagree.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from flux_cli.render.state import Turn
from flux_cli.render.summary import percentile
from flux_cli.report.log import RunLog

END_TOLERANCE_S = 0.25  # two runs' turn ends closer than this count as the same end


@dataclass(frozen=True)
class Summary:
    name: str
    request_id: str | None
    audio_s: float
    turns: int
    unfinished: int
    words: int
    triggers: dict[str, int]
    eager_ends: int
    resumed: int
    eot_threshold: float
    eager_eot_threshold: float | None
    end_confidence_median: float | None
    end_confidence_min: float | None
    delays_measured: int
    delay_p50_s: float | None
    delay_p90_s: float | None
    delay_max_s: float | None
    messages: int
    notes: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["notes"] = list(self.notes)
        return out


@dataclass(frozen=True)
class TurnRow:
    index: int
    start: float
    end: float
    words: int
    trigger: str | None
    confidence: float
    delay_s: float | None
    finished: bool
    transcript: str

    @property
    def duration(self) -> float:
        return max(0.0, self.end - self.start)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["duration"] = round(self.duration, 3)
        return out


def turn_rows(run: RunLog) -> list[TurnRow]:
    return [
        TurnRow(
            index=t.index,
            start=t.start,
            end=t.end,
            words=len(t.transcript.split()),
            trigger=t.trigger if t.finished else None,
            confidence=t.end_of_turn_confidence,
            delay_s=t.server_delay_s,
            finished=t.finished,
            transcript=t.transcript,
        )
        for t in run.turns
    ]


def summarise(run: RunLog) -> Summary:
    finished = [t for t in run.turns if t.finished]
    delays = [t.server_delay_s for t in finished if t.server_delay_s is not None]
    ends = [t.end_of_turn_confidence for t in finished]
    event_counts = Counter(e.event for e in run.events)
    notes = list(run.notices)
    if not run.has_send_times and finished:
        notes.append("no send times in this log (not written by flux?): no server delays")
    if run.skipped_lines:
        notes.append(f"{run.skipped_lines} line(s) were not JSON objects and were skipped")
    early = sum(1 for t in run.turns if t.words and (t.words[0].start or t.start) < t.start)
    if early:
        notes.append(
            f"{early} turn(s) have word times before their audio_window_start (kept as sent)"
        )
    for at, values in run.threshold_changes:
        shown = ", ".join(f"{k} {v:g}" for k, v in sorted(values.items()))
        notes.append(f"Configure at {at:.2f} s: {shown}")
    return Summary(
        name=run.name,
        request_id=run.request_id,
        audio_s=round(run.audio_s, 3),
        turns=len(finished),
        unfinished=len(run.turns) - len(finished),
        words=sum(len(t.transcript.split()) for t in run.turns),
        triggers=dict(Counter(t.trigger or "none" for t in finished)),
        eager_ends=event_counts.get("EagerEndOfTurn", 0),
        resumed=event_counts.get("TurnResumed", 0),
        eot_threshold=run.eot_threshold,
        eager_eot_threshold=run.eager_eot_threshold,
        end_confidence_median=statistics.median(ends) if ends else None,
        end_confidence_min=min(ends) if ends else None,
        delays_measured=len(delays),
        delay_p50_s=percentile(delays, 50),
        delay_p90_s=percentile(delays, 90),
        delay_max_s=max(delays) if delays else None,
        messages=run.messages,
        notes=tuple(notes),
    )


# --------------------------------------------------------------------------- comparing runs


@dataclass(frozen=True)
class Difference:
    """Turns of run A and run B that overlap in time but do not match one to one."""

    kind: str  # "split", "merged", "only in A", "only in B", "end moved", "text differs"
    a: tuple[Turn, ...]
    b: tuple[Turn, ...]
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        def brief(turns: tuple[Turn, ...]) -> list[dict[str, Any]]:
            return [
                {"turn_index": t.index, "start": round(t.start, 3), "end": round(t.end, 3),
                 "transcript": t.transcript}
                for t in turns
            ]

        return {"kind": self.kind, "detail": self.detail, "a": brief(self.a), "b": brief(self.b)}


def _overlaps(x: Turn, y: Turn) -> bool:
    return x.start < y.end and y.start < x.end


def _groups(a: Sequence[Turn], b: Sequence[Turn]) -> list[tuple[list[Turn], list[Turn]]]:
    """Connected groups of turns that overlap in time across the two runs, in time order."""
    nodes = [("a", i) for i in range(len(a))] + [("b", i) for i in range(len(b))]
    parent = {n: n for n in nodes}

    def find(n: tuple[str, int]) -> tuple[str, int]:
        while parent[n] != n:
            parent[n] = parent[parent[n]]
            n = parent[n]
        return n

    for i, x in enumerate(a):
        for j, y in enumerate(b):
            if _overlaps(x, y):
                parent[find(("a", i))] = find(("b", j))
    groups: dict[tuple[str, int], tuple[list[Turn], list[Turn]]] = {}
    for side, i in nodes:
        group = groups.setdefault(find((side, i)), ([], []))
        (group[0] if side == "a" else group[1]).append(a[i] if side == "a" else b[i])
    ordered = list(groups.values())
    ordered.sort(key=lambda g: min(t.start for t in (*g[0], *g[1])))
    return ordered


def _words(text: str) -> list[str]:
    return ["".join(c for c in w.lower() if c.isalnum()) for w in text.split()]


def compare(
    a: Sequence[Turn], b: Sequence[Turn], tolerance_s: float = END_TOLERANCE_S
) -> list[Difference]:
    """The places where run B's turns differ from run A's (empty: the same turns)."""
    out: list[Difference] = []
    for ga, gb in _groups(a, b):
        ta, tb = tuple(ga), tuple(gb)
        if not gb:
            out.append(Difference("only in A", ta, tb))
        elif not ga:
            out.append(Difference("only in B", ta, tb))
        elif len(ga) == 1 and len(gb) > 1:
            out.append(Difference("split", ta, tb, f"one turn in A, {len(gb)} in B"))
        elif len(ga) > 1 and len(gb) == 1:
            out.append(Difference("merged", ta, tb, f"{len(ga)} turns in A, one in B"))
        elif len(ga) > 1:
            out.append(Difference("regrouped", ta, tb, f"{len(ga)} turns in A, {len(gb)} in B"))
        else:
            moved = tb[0].end - ta[0].end
            if abs(moved) > tolerance_s:
                out.append(Difference("end moved", ta, tb, f"B ends {moved:+.2f} s later"))
            elif _words(ta[0].transcript) != _words(tb[0].transcript):
                out.append(Difference("text differs", ta, tb))
    return out
