"""Score one call's server events against its truth: cut-offs, missed ends, latencies.

Definitions (``docs/EVAL.md``), times in seconds of the speaker's audio:

- Each silence of the truth (a hold or a shift) owns the end-of-turn events from
  ``EARLY`` before the speaker stopped until ``slack`` after the speaker spoke again: a
  server that decided on audio up to just after speech resumed had not yet heard it (VAD
  onsets lag), so the end still belongs to the silence.
- A hold with an ``EndOfTurn`` in it is a **false cut-off**; a shift without one is a
  **missed end** (the turn ran on into the speaker's next words). Only the first end in a
  silence counts; more are ``extra``. An end outside every silence came while the speaker
  was talking (a pause shorter than the pause rule): **mid-speech**, reported apart.
- **Latency**: the first ``EndOfTurn`` of a shift minus the speaker's last sound. Against
  the real agent: that end minus the agent's first sound (negative: the server would have
  allowed an earlier answer than the agent gave).
- ``EagerEndOfTurn`` the same way (its latency on shifts; in holds it is a speculative
  reply thrown away), and ``TurnResumed`` counted where it comes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from flux_cli.evaluate.events import EAGER, END, RESUMED, TurnEvent, of_kind, transcript_at
from flux_cli.evaluate.truth import CallTruth, Hold, Shift

EARLY = 0.15
DEFAULT_SLACK = 0.3


@dataclass(frozen=True)
class Case:
    """One scored silence worth listening to: where in which call, and what was heard."""

    call: str
    kind: str  # "cut-off", "missed", "slow"
    at: float  # the speaker's last sound before the silence
    seconds: float  # cut-off: how far into the hold; slow: the latency; missed: silence length
    transcript: str

    def to_dict(self) -> dict[str, object]:
        return {"call": self.call, "kind": self.kind, "at": round(self.at, 3),
                "seconds": round(self.seconds, 3), "transcript": self.transcript}


@dataclass
class CallScore:
    call: str
    holds: int = 0
    cutoffs: int = 0
    backchannel_cutoffs: int = 0
    shifts: int = 0
    missed: int = 0
    latencies: list[float] = field(default_factory=list)
    eager_latencies: list[float] = field(default_factory=list)
    eager_in_holds: int = 0
    resumed: int = 0
    mid_speech: int = 0
    extra: int = 0
    versus_agent: list[float] = field(default_factory=list)  # server end - agent's answer
    agent_gaps: list[float] = field(default_factory=list)
    cases: list[Case] = field(default_factory=list)

    def add(self, other: CallScore) -> None:
        for name in ("holds", "cutoffs", "backchannel_cutoffs", "shifts", "missed",
                     "eager_in_holds", "resumed", "mid_speech", "extra"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for name in ("latencies", "eager_latencies", "versus_agent", "agent_gaps", "cases"):
            getattr(self, name).extend(getattr(other, name))

    @property
    def cutoff_rate(self) -> float:
        return self.cutoffs / self.holds if self.holds else 0.0

    @property
    def missed_rate(self) -> float:
        return self.missed / self.shifts if self.shifts else 0.0


@dataclass(frozen=True)
class _Silence:
    start: float
    limit: float  # events at or after this belong to what comes next
    item: Hold | Shift


def _silences(truth: CallTruth, slack: float) -> list[_Silence]:
    found = [_Silence(h.start, h.end + slack, h) for h in truth.holds]
    found += [_Silence(s.end, s.next_start + slack, s) for s in truth.shifts]
    return sorted(found, key=lambda s: s.start)


def _owner(silences: Sequence[_Silence], at: float) -> int | None:
    """The silence an event at ``at`` belongs to: the last one begun by then, if still open."""
    owner = None
    for i, silence in enumerate(silences):
        if silence.start - EARLY <= at:
            owner = i
        else:
            break
    if owner is None or at >= silences[owner].limit:
        return None
    return owner


def _assign(silences: Sequence[_Silence], events: Sequence[TurnEvent]) -> tuple[
        dict[int, list[TurnEvent]], int]:
    owned: dict[int, list[TurnEvent]] = {}
    outside = 0
    for event in events:
        i = _owner(silences, event.at)
        if i is None:
            outside += 1
        else:
            owned.setdefault(i, []).append(event)
    return owned, outside


def score_call(
    truth: CallTruth, events: Sequence[TurnEvent], slack: float = DEFAULT_SLACK
) -> CallScore:
    """How the server's events fared on this call's holds and shifts."""
    score = CallScore(call=truth.name, holds=len(truth.holds), shifts=len(truth.shifts))
    silences = _silences(truth, slack)
    ends, outside = _assign(silences, of_kind(events, END))
    eagers, _ = _assign(silences, of_kind(events, EAGER))
    resumes, _ = _assign(silences, of_kind(events, RESUMED))
    score.mid_speech = outside
    score.resumed = sum(len(v) for v in resumes.values())
    ordered = sorted(events, key=lambda e: e.at)
    for i, silence in enumerate(silences):
        hits = ends.get(i, [])
        score.extra += max(0, len(hits) - 1)
        first = hits[0] if hits else None
        item = silence.item
        if isinstance(item, Hold):
            score.eager_in_holds += bool(eagers.get(i))
            if first is not None:
                score.cutoffs += 1
                score.backchannel_cutoffs += item.backchannel
                score.cases.append(Case(truth.name, "cut-off", item.start,
                                        first.at - item.start, first.transcript))
            continue
        if eagers.get(i):
            score.eager_latencies.append(eagers[i][0].at - item.end)
        if item.agent_gap is not None:
            score.agent_gaps.append(item.agent_gap)
        if first is None:
            score.missed += 1
            heard = transcript_at(ordered, item.next_start)
            score.cases.append(Case(truth.name, "missed", item.end,
                                    item.next_start - item.end, heard))
            continue
        latency = first.at - item.end
        score.latencies.append(latency)
        score.cases.append(Case(truth.name, "slow", item.end, latency, first.transcript))
        if item.response is not None:
            score.versus_agent.append(first.at - item.response)
    return score


def worst_cases(score: CallScore, limit: int = 10) -> list[Case]:
    """The cases a person should listen to first: cut-offs, then misses, then the slowest."""
    rank = {"cut-off": 0, "missed": 1, "slow": 2}
    ordered = sorted(score.cases, key=lambda c: (rank[c.kind], -c.seconds if c.kind == "slow"
                                                 else c.at, c.call))
    return ordered[:limit]
