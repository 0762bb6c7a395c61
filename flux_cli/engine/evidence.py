"""What the decision point of a pause found, and the shape of a model that scores it.

Kept apart from the detector and the learned model so both can depend on it (and on nothing
of each other's).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

from flux_cli.protocol import Word


def sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


def logit(p: float, clip: float) -> float:
    p = min(max(p, clip), 1.0 - clip)
    return math.log(p / (1.0 - p))


@dataclass(frozen=True)
class PauseEvidence:
    """What the decision point of one pause found (see ``eot_model.features``)."""

    smart_turn: float  # Smart Turn's probability that the turn is complete
    transcript: str  # the turn's decode up to the speech end
    words: tuple[Word, ...] = ()  # its words, with times and confidences
    speech_s: float = 0.0  # from the turn's start to the speech end
    language: str | None = None  # detected (flux-general-multi); None: an English decode
    sentence_end: float | None = None  # Whisper's P(sentence ends here); None: not scored


class PauseObserver(Protocol):
    """Told of each judged pause and of each resume after one: benchmarks record what the
    decision point found (to train the end-of-turn model on) without reaching inside."""

    def judged(self, speech_end_s: float, decided_at_s: float, evidence: PauseEvidence) -> None:
        ...

    def resumed(self, at_s: float) -> None: ...


class ConfidenceModel(Protocol):
    """Evidence of a judged pause -> its logit as a line over the silence so far."""

    @property
    def uses_smart_turn(self) -> bool: ...

    def line(self, evidence: PauseEvidence) -> tuple[float, float]:
        """(base, slope): the logit after ``s`` seconds of silence is ``base + slope · s``."""
        ...
