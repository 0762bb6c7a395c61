"""The server's side of a call: its ``TurnInfo`` messages reduced to what scoring needs.

A message's time is its ``audio_window_end``: how much of the speaker's audio the server
had heard when it decided, on the same timeline as the truth, so network and pacing delays
do not enter the scores (they would differ between a paced and a ``--fast`` run).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

END = "EndOfTurn"
EAGER = "EagerEndOfTurn"
RESUMED = "TurnResumed"


@dataclass(frozen=True)
class TurnEvent:
    event: str
    at: float
    confidence: float = 0.0
    transcript: str = ""
    turn_index: int = 0
    trigger: str | None = None

    @classmethod
    def from_dict(cls, message: dict[str, Any]) -> TurnEvent | None:
        """A ``TurnInfo`` JSON object; None for any other message."""
        if message.get("type") != "TurnInfo":
            return None
        trigger = message.get("trigger")
        return cls(
            event=str(message.get("event", "")),
            at=float(message.get("audio_window_end", 0.0)),
            confidence=float(message.get("end_of_turn_confidence", 0.0) or 0.0),
            transcript=str(message.get("transcript", "")),
            turn_index=int(message.get("turn_index", 0)),
            trigger=None if trigger is None else str(trigger),
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"event": self.event, "at": round(self.at, 3),
                               "confidence": round(self.confidence, 4),
                               "transcript": self.transcript, "turn_index": self.turn_index}
        if self.trigger is not None:
            out["trigger"] = self.trigger
        return out


def of_kind(events: Iterable[TurnEvent], kind: str) -> list[TurnEvent]:
    return sorted((e for e in events if e.event == kind), key=lambda e: e.at)


def transcript_at(events: Iterable[TurnEvent], at: float) -> str:
    """What the server had transcribed of the turn open at ``at`` (for the worst cases)."""
    text = ""
    for e in events:
        if e.at > at + 1e-9:
            break
        if e.event == END:
            text = "" if e.at < at - 1e-9 else e.transcript
        elif e.transcript:
            text = e.transcript
    return text
