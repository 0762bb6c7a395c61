"""The state of one connection's turn machine, and the bookkeeping of its active turn."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from flux_cli.engine.evidence import PauseEvidence
from flux_cli.engine.interfaces import Transcript
from flux_cli.engine.turn_audio import EMPTY


class State(enum.Enum):
    IDLE = "idle"
    SPEAKING = "speaking"
    PAUSED = "paused"
    EAGER = "eager"  # an EagerEndOfTurn stands; speech again -> TurnResumed


@dataclass
class Turn:
    """Bookkeeping of the active turn (all positions in absolute samples)."""

    serial: int
    start: int  # speech onset: audio_window_start
    decode_start: int  # where the next decode begins (moves when a long turn commits)
    committed: Transcript = field(default_factory=lambda: EMPTY)
    interim: Transcript = field(default_factory=lambda: EMPTY)
    interim_end: int = 0
    interim_asked: int = 0  # end of the last interim decode asked for
    pause_end: int = 0  # where the speech stopped at the latest pause
    evidence: PauseEvidence | None = None  # what the judged pause found
    line: tuple[float, float] | None = None  # its logit line over silence: (base, slope)
    decided: Transcript | None = None  # the judged pause's full decode
    eager: Transcript | None = None  # the EagerEndOfTurn transcript, while it stands
    repeats: tuple[str, ...] | None = None  # after a ForceEndTurn: words not to say twice
