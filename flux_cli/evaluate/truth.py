"""What really happened in a call: where the speaker paused and went on, and where they stopped.

All times are seconds of the speaker's audio from its first sample: the same timeline as
the server's ``audio_window_end``, because only the speaker's channel is streamed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Segment = tuple[float, float]  # (start, end) seconds of speech


@dataclass(frozen=True)
class Hold:
    """The speaker fell silent at ``start`` and went on speaking at ``end``.

    ``backchannel``: the other party said something short meanwhile ("mm-hm") and the
    speaker kept the floor; it is still a hold, counted apart in the truth summary.
    """

    start: float
    end: float
    backchannel: bool = False

    @property
    def length(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class Shift:
    """The speaker's turn ended at ``end``; the other party answered at ``response``.

    ``response`` is None where nobody answered (the call's last turn, or labels without
    the other party); it is earlier than ``end`` when the answer overlapped the speaker.
    ``next_start`` is when the speaker spoke again (the call's end if never): an end of
    turn reported later than that is too late to count.
    """

    end: float
    response: float | None
    next_start: float

    @property
    def agent_gap(self) -> float | None:
        """How long the real agent left the line quiet (negative: it overlapped)."""
        return None if self.response is None else self.response - self.end


@dataclass
class CallTruth:
    """Every hold and shift of one call, and how they were found (said in the output)."""

    name: str
    duration: float
    holds: list[Hold] = field(default_factory=list)
    shifts: list[Shift] = field(default_factory=list)
    speech: list[Segment] = field(default_factory=list)  # the speaker's, for the plot/table
    method: str = ""
    overlaps: int = 0  # other-party speech that started while the speaker was talking

    @property
    def backchannels(self) -> int:
        return sum(h.backchannel for h in self.holds)

    def speaker_audio_s(self) -> float:
        return sum(b - a for a, b in self.speech)

    def to_dict(self) -> dict[str, Any]:
        return {
            "call": self.name,
            "duration": round(self.duration, 3),
            "method": self.method,
            "holds": [
                {"start": round(h.start, 3), "end": round(h.end, 3), "backchannel": h.backchannel}
                for h in self.holds
            ],
            "shifts": [
                {
                    "end": round(s.end, 3),
                    "response": None if s.response is None else round(s.response, 3),
                    "next_start": round(s.next_start, 3),
                }
                for s in self.shifts
            ],
            "overlaps": self.overlaps,
        }
