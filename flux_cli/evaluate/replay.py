"""Other thresholds from one run: replay the ``end_of_turn_confidence`` of every message.

A server ends a turn when its end-of-turn confidence reaches ``eot_threshold``. Run once at
the highest threshold wanted and every lower threshold's ends can be read off the same
messages: the first message of a pause whose confidence reaches it. One run instead of one
per threshold, which on a paid service is the difference between paying once and paying N
times.

Confidences arrive with the ``Update`` cadence (about every 0.25 s of audio). The replayed
end is placed where the confidence crossed the threshold between the last message below it
and the first at or above it, interpolated in logit space (a pause's confidence is a
logistic curve of its length). Taking the later message's time instead read 0.06-0.19 s
late against separate runs on the bundled calls; interpolated, within 0.03 s where the
turns were the same.

What the replay cannot see, and why it is "within one pause per call" of separate runs:
- A hold that crossed the threshold for less than one tick (then speech resumed) is not
  seen as cut.
- After a replayed end the real server would start a new turn where the speaker goes on;
  the run's turn instead ran on, so the confidences of that turn's later pauses were judged
  with more context than a separate run would have had.
- Ends the run's server sent for another reason (``trigger`` ``timeout``) stand at every
  threshold.

Replay needs confidences that move: a server whose ``Update``s carry a constant (or no)
confidence cannot be replayed (``replayable``), and ``flux eval`` runs once per threshold.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from flux_cli.evaluate.events import END, TurnEvent

STATE_EVENTS = ("StartOfTurn", "EagerEndOfTurn", "TurnResumed", END)


def replayable(events: Sequence[TurnEvent]) -> bool:
    """Do the ``Update`` confidences move enough to read other thresholds from them?"""
    values = {round(e.confidence, 4) for e in events if e.event == "Update"}
    return len(values - {0.0, 1.0}) >= 3


def replay_ends(events: Sequence[TurnEvent], threshold: float) -> list[TurnEvent]:
    """The run's events with the ``EndOfTurn``s a server at ``threshold`` would have sent.

    Only for a ``threshold`` at or below the run's own: a higher one would have kept
    turns open that the run closed, and what the server said next is unknown.
    """
    out: list[TurnEvent] = []
    armed = True  # the confidence has been below the threshold since the last end
    before: TurnEvent | None = None  # the message before, in the same turn
    for event in sorted(events, key=lambda e: e.at):
        if event.event == END:
            if armed:
                out.append(event)
            armed, before = True, None  # the run's server started a new turn after it
            continue
        if event.event not in ("Update", *STATE_EVENTS):
            continue
        if event.confidence >= threshold and event.event != "StartOfTurn":
            if armed:
                at = crossing(before, event, threshold)
                out.append(TurnEvent(END, at, event.confidence, event.transcript,
                                     event.turn_index, "replay"))
                armed = False
        else:
            armed = True
        if event.event != "Update":
            out.append(event)
        before = event
    return out


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


def crossing(before: TurnEvent | None, after: TurnEvent, threshold: float) -> float:
    """When the confidence reached ``threshold`` between two messages (logit-linear)."""
    if before is None or before.confidence >= threshold or after.at <= before.at:
        return after.at
    low, high, goal = _logit(before.confidence), _logit(after.confidence), _logit(threshold)
    if high <= low:
        return after.at
    share = min(1.0, max(0.0, (goal - low) / (high - low)))
    return before.at + share * (after.at - before.at)
