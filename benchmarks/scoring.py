"""Score turn events against the corpus labels: pure functions (``load_events`` reads a file).

Definitions (all times are seconds of *audio*, from the first sample sent):
- An end-of-turn event's time is its ``audio_window_end``: how far the engine had heard when it
  decided. Its latency is that time minus the labelled end of speech.
- A turn's end is *detected* by the first EndOfTurn between ``end - EARLY`` and the next turn's
  start (+ ``slack``); if none comes, the turn was merged into the next one (a *missed end*).
- A pause inside a turn is *cut* when an EndOfTurn falls between its start (- ``EARLY``) and its
  end + ``slack`` (the time the decision would take to surface once speech resumed).
- Trade-off summaries follow LiveKit eot-bench: among the measured operating points, the lowest
  false cut-off rate whose median latency fits a latency budget, and the lowest median latency
  whose false cut-off rate fits a cut-off budget.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from flux_cli.render.summary import percentile

EARLY = 0.15  # an event this close before the labelled end still counts as at the end
DEFAULT_SLACK = 0.3


class Turn(Protocol):
    """What scoring needs from a label (``benchmarks.synth.TurnLabel`` has it)."""

    text: str
    start: float
    end: float
    pauses: list[tuple[float, float]]


class VoicedTurn(Turn, Protocol):
    """A label that also says whose voice it is (two-party calls)."""

    voice: str


@dataclass(frozen=True)
class Event:
    """One TurnInfo as the client logged it."""

    event: str
    turn_index: int
    start: float
    end: float
    transcript: str
    confidence: float = 0.0
    trigger: str | None = None
    received: float | None = None  # the client's receive time (wall clock), when logged


RECEIVE_KEYS = ("received_at", "receive_time", "recv_time", "received", "client_time", "t")


def event_from_record(record: dict[str, Any]) -> Event | None:
    """The TurnInfo in one JSONL record, wherever the logger put it; None for other messages."""
    message = record
    for key in ("message", "msg", "data"):
        if record.get("type") != "TurnInfo" and isinstance(record.get(key), dict):
            message = record[key]
    if message.get("type") != "TurnInfo":
        return None
    received = next((record[k] for k in RECEIVE_KEYS if isinstance(record.get(k), int | float)),
                    None)
    return Event(
        event=str(message["event"]), turn_index=int(message.get("turn_index", 0)),
        start=float(message["audio_window_start"]), end=float(message["audio_window_end"]),
        transcript=str(message.get("transcript", "")),
        confidence=float(message.get("end_of_turn_confidence", 0.0)),
        trigger=message.get("trigger"),
        received=None if received is None else float(received),
    )


def load_events(path: Path) -> list[Event]:
    """TurnInfo events of a client JSONL log, in order."""
    events = []
    for line in path.read_text().splitlines():
        if line.strip():
            event = event_from_record(json.loads(line))
            if event is not None:
                events.append(event)
    return events


def times(events: Iterable[Event], kind: str) -> list[float]:
    return [e.end for e in events if e.event == kind]


# --------------------------------------------------------------------------- turn ends


def speaker_changes_ended(labels: Sequence[VoicedTurn], ends: Sequence[float], within: float, *,
                          overlapping: bool = False) -> tuple[int, int, list[float]]:
    """(ended, changes, latencies from the new voice's onset): another voice's turn follows,
    and an end comes between the first turn's end (less ``EARLY``) and ``within`` after the new
    voice's onset; ``overlapping``: only the changes where the new voice starts before the last
    one stops."""
    ended = changes = 0
    latencies = []
    for turn, nxt in itertools.pairwise(labels):
        if nxt.voice == turn.voice or (overlapping and nxt.start >= turn.end):
            continue
        changes += 1
        hits = [t for t in ends if turn.end - EARLY <= t <= nxt.start + within]
        if hits:
            ended += 1
            latencies.append(hits[0] - nxt.start)
    return ended, changes, latencies


@dataclass
class TurnScore:
    """How one call's (or a whole corpus's) turn ends were found."""

    turns: int = 0
    detected: int = 0
    missed: int = 0
    latencies: list[float] = field(default_factory=list)
    pauses: int = 0
    pauses_cut: int = 0
    inserted_pauses: int = 0  # of ``pauses``, the silences the corpus placed (not natural)
    inserted_cut: int = 0
    cuts_mid_speech: int = 0  # end events inside speech, not in a labelled pause
    extra: int = 0  # end events in the gaps after a turn was already ended

    def add(self, other: TurnScore) -> None:
        self.turns += other.turns
        self.detected += other.detected
        self.missed += other.missed
        self.latencies += other.latencies
        self.pauses += other.pauses
        self.pauses_cut += other.pauses_cut
        self.inserted_pauses += other.inserted_pauses
        self.inserted_cut += other.inserted_cut
        self.cuts_mid_speech += other.cuts_mid_speech
        self.extra += other.extra

    @property
    def false_cutoff_rate(self) -> float:
        return self.pauses_cut / self.pauses if self.pauses else 0.0

    @property
    def missed_rate(self) -> float:
        return self.missed / self.turns if self.turns else 0.0


def score_turns(labels: Sequence[Turn], ends: Sequence[float],
                slack: float = DEFAULT_SLACK) -> TurnScore:
    """Match end-of-turn times (audio seconds) against labelled turns and their pauses."""
    score = TurnScore(turns=len(labels))
    ends = sorted(ends)
    used: set[int] = set()
    for i, turn in enumerate(labels):
        limit = labels[i + 1].start + slack if i + 1 < len(labels) else float("inf")
        hits = [j for j, t in enumerate(ends) if turn.end - EARLY <= t < limit and j not in used]
        if hits:
            score.detected += 1
            score.latencies.append(ends[hits[0]] - turn.end)
            used.add(hits[0])
            score.extra += len(hits) - 1
            used.update(hits)
        else:
            score.missed += 1
        kinds = getattr(turn, "pause_kinds", None) or ["inserted"] * len(turn.pauses)
        for (a, b), kind in zip(turn.pauses, kinds, strict=True):
            score.pauses += 1
            score.inserted_pauses += kind == "inserted"
            inside = [j for j, t in enumerate(ends) if a - EARLY <= t <= b + slack]
            if inside:
                score.pauses_cut += 1
                score.inserted_cut += kind == "inserted"
                used.update(inside)
    for j, t in enumerate(ends):
        if j in used:
            continue
        if any(turn.start < t < turn.end - EARLY for turn in labels):
            score.cuts_mid_speech += 1
        else:
            score.extra += 1
    return score


# --------------------------------------------------------------------------- transcripts


def hypothesis(events: Sequence[Event]) -> str:
    """The call's transcript as the client would show it: every EndOfTurn, plus the last
    Update of an unfinished final turn."""
    parts: list[str] = []
    pending = ""
    for e in events:
        if e.event == "EndOfTurn":
            parts.append(e.transcript)
            pending = ""
        elif e.event in ("Update", "StartOfTurn", "EagerEndOfTurn", "TurnResumed"):
            pending = e.transcript
    if pending:
        parts.append(pending)
    return " ".join(p for p in parts if p)


_UNIT_WORDS = ("zero one two three four five six seven eight nine ten eleven twelve thirteen "
               "fourteen fifteen sixteen seventeen eighteen nineteen")
_TENS_WORDS = "twenty thirty forty fifty sixty seventy eighty ninety"
_ORDINAL_WORDS = ("first second third fourth fifth sixth seventh eighth ninth tenth eleventh "
                  "twelfth thirteenth fourteenth fifteenth sixteenth seventeenth eighteenth "
                  "nineteenth")
_TENTH_WORDS = "twentieth thirtieth fortieth fiftieth sixtieth seventieth eightieth ninetieth"
_UNITS = {w: i for i, w in enumerate(_UNIT_WORDS.split())}
_TENS = {w: 10 * (i + 2) for i, w in enumerate(_TENS_WORDS.split())}
_ORDINALS = {w: i + 1 for i, w in enumerate(_ORDINAL_WORDS.split())}
_ORDINALS.update({w: 10 * (i + 2) for i, w in enumerate(_TENTH_WORDS.split())})
_FILLERS = {"um", "uh", "umm", "uhm", "hmm", "mm", "er", "ah"}
_SUFFIX = {1: "st", 2: "nd", 3: "rd"}
_CONTRACTIONS = {"i'm": "i am", "it's": "it is", "that's": "that is", "don't": "do not",
                 "can't": "cannot", "can not": "cannot", "i'd": "i would", "we'd": "we would",
                 "we'll": "we will", "i've": "i have", "what's": "what is", "didn't": "did not",
                 "okay": "ok", "o.k.": "ok", "there's": "there is", "you're": "you are",
                 "isn't": "is not", "won't": "will not", "let's": "let us", "we're": "we are"}


def _ordinal(n: int) -> str:
    return f"{n}{'th' if 10 <= n % 100 <= 20 else _SUFFIX.get(n % 10, 'th')}"


def normalise(text: str) -> list[str]:
    """Words for WER: lower case, no punctuation or fillers, numbers as digits, digit runs
    joined ("seven three nine" = "7 3 9" = "739"; "nine thirty" = "9:30" = "930")."""
    text = text.lower()
    for short, long in _CONTRACTIONS.items():
        text = re.sub(rf"(?<![\w']){re.escape(short)}(?![\w'])", long, text)
    text = text.replace("@", " at ")
    text = re.sub(r"[^\w\s']|_", " ", text).replace("'", "")
    tokens = [t for t in text.split() if t not in _FILLERS and t != "dot"]
    out: list[str] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
        if tok in _TENS and nxt in _UNITS and 0 < _UNITS[nxt] < 10:
            out.append(str(_TENS[tok] + _UNITS[nxt]))
            i += 2
            continue
        if tok in _TENS and nxt in _ORDINALS and _ORDINALS[nxt] < 10:
            out.append(_ordinal(_TENS[tok] + _ORDINALS[nxt]))
            i += 2
            continue
        if tok in _UNITS:
            out.append(str(_UNITS[tok]))
        elif tok in _TENS:
            out.append(str(_TENS[tok]))
        elif tok in _ORDINALS:
            out.append(_ordinal(_ORDINALS[tok]))
        else:
            out.append(tok)
        i += 1
    merged: list[str] = []
    for tok in out:
        joins = tok.isdigit() or re.fullmatch(r"\d+(st|nd|rd|th)", tok) is not None
        if merged and joins and merged[-1].isdigit():
            merged[-1] += tok
        else:
            merged.append(tok)
    return merged


def edit_distance(ref: Sequence[str], hyp: Sequence[str]) -> int:
    """Word-level Levenshtein distance (substitutions + deletions + insertions)."""
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h))
        prev = cur
    return prev[-1]


def wer(pairs: Iterable[tuple[str, str]]) -> tuple[float, int, int]:
    """Corpus WER over (reference, hypothesis) texts; returns (rate, errors, reference words)."""
    errors = words = 0
    for ref, hyp in pairs:
        r, h = normalise(ref), normalise(hyp)
        errors += edit_distance(r, h)
        words += len(r)
    return (errors / words if words else 0.0), errors, words


# --------------------------------------------------------------------------- trade-off


@dataclass(frozen=True)
class OperatingPoint:
    """One engine setting's result: its false cut-off rate and median latency (seconds)."""

    setting: str
    false_cutoff_rate: float
    latency_p50: float | None


def cutoff_at_latency(points: Sequence[OperatingPoint], budget: float) -> OperatingPoint | None:
    """The setting with the fewest false cut-offs whose median latency fits the budget."""
    fits = [p for p in points if p.latency_p50 is not None and p.latency_p50 <= budget]
    return min(fits, key=lambda p: (p.false_cutoff_rate, p.latency_p50 or 0.0), default=None)


def latency_at_cutoff(points: Sequence[OperatingPoint], budget: float) -> OperatingPoint | None:
    """The setting with the lowest median latency whose false cut-off rate fits the budget."""
    fits = [p for p in points if p.latency_p50 is not None and p.false_cutoff_rate <= budget]
    return min(fits, key=lambda p: (p.latency_p50 or 0.0, p.false_cutoff_rate), default=None)


# --------------------------------------------------------------------------- timing


def wall_latencies(labels: Sequence[Turn], events: Sequence[Event],
                   sent_at: Callable[[float], float | None],
                   slack: float = DEFAULT_SLACK) -> list[float]:
    """Wall-clock delay from sending each turn's last speech frame to receiving its EndOfTurn.

    ``sent_at(t)`` is when the frame holding audio time ``t`` left the client; ``received``
    on the events must be on the same clock.
    """
    out = []
    ends = [e for e in events if e.event == "EndOfTurn" and e.received is not None]
    for i, turn in enumerate(labels):
        limit = labels[i + 1].start + slack if i + 1 < len(labels) else float("inf")
        hit = next((e for e in ends if turn.end - EARLY <= e.end < limit), None)
        sent = sent_at(turn.end)
        if hit is not None and hit.received is not None and sent is not None:
            out.append(hit.received - sent)
    return out


def pacing(receive_times: Sequence[float], frame_seconds: Sequence[float],
           speed: float = 1.0) -> dict[str, float]:
    """Deviation of frame arrival times from the ideal schedule (seconds).

    The schedule starts at the first frame and advances by each frame's duration / speed;
    ``drift`` is the mean deviation over the last tenth of the stream, ``mean_abs`` and
    ``p99_abs`` summarise every frame.
    """
    if not receive_times:
        return {"frames": 0, "mean_abs": 0.0, "p99_abs": 0.0, "drift": 0.0}
    t0 = receive_times[0]
    audio = 0.0
    devs = []
    for received, seconds in zip(receive_times, frame_seconds, strict=True):
        devs.append(received - (t0 + audio / speed))
        audio += seconds
    tail = devs[-max(1, len(devs) // 10):]
    absolute = [abs(d) for d in devs]
    return {"frames": float(len(devs)), "mean_abs": sum(absolute) / len(absolute),
            "p99_abs": percentile(absolute, 99) or 0.0, "drift": sum(tail) / len(tail)}


def rss_growth(samples: Sequence[tuple[float, float]]) -> float:
    """Memory growth (bytes) from the second to the last quarter of a run: ~0 when flat.

    Compares medians, so one allocation spike does not read as a leak; the first quarter
    is skipped as start-up, so imports do not either.
    """
    if len(samples) < 4:
        return 0.0
    values = [rss for _t, rss in samples]
    q = len(values) // 4
    first = percentile(values[q: 2 * q], 50) or 0.0
    last = percentile(values[-q:], 50) or 0.0
    return last - first
