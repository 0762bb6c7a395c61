"""What the turn session needs from the models, as small protocols.

The session (``session.py``) depends only on these, so its tests use scripted fakes while
the real engine (``load_engine``) wires in Silero VAD, Whisper tiny.en and Smart Turn.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import numpy.typing as npt

from flux_cli.engine.languages import LanguageChoice
from flux_cli.protocol import Word

SAMPLE_RATE = 16000
VAD_WINDOW = 512  # samples at 16 kHz: 32 ms

Audio = npt.NDArray[np.float32]


class VadStream(Protocol):
    """Speech probabilities for one connection; carries model state and a sample remainder."""

    def process(self, samples: Audio) -> list[float]:
        """One probability per complete 512-sample window, in stream order."""
        ...


class Vad(Protocol):
    def new_stream(self) -> VadStream: ...


@dataclass
class Transcript:
    text: str
    words: list[Word]
    languages: list[str] = field(default_factory=list)  # detected, most likely first
    # Whisper's probability that a sentence ends after these words (None: not asked for)
    sentence_end: float | None = None


class Transcriber(Protocol):
    def transcribe(
        self,
        audio: Audio,
        *,
        offset_s: float,
        hotwords: Sequence[str] = (),
        languages: LanguageChoice | None = None,
    ) -> Transcript:
        """Decode ``audio``; word times are shifted by ``offset_s`` into stream seconds.

        ``languages`` None: English. Otherwise the decode detects its language among the
        candidates and reports it in ``Transcript.languages``.
        """
        ...


class SmartTurnModel(Protocol):
    def predict(self, audio: Audio) -> float:
        """Probability that the turn whose audio ends here is complete (acoustics only)."""
        ...


class SpeakerEncoder(Protocol):
    def embed(self, audio: Audio) -> npt.NDArray[np.float32]:
        """A voice embedding of 16 kHz speech (compared by cosine: same voice ~ close)."""
        ...

    def similarity(self, reference: Audio, new: Audio) -> float:
        """How alike the voices of two pieces of speech are (1: the same direction)."""
        ...

    def voice_vector(self, audio: Audio) -> npt.NDArray[np.float32]:
        """A unit vector for a piece of speech; pieces of one length compare by dot product."""
        ...


@dataclass(frozen=True)
class AsrInfo:
    """Which Whisper the engine runs: the start-up line, ``/v1/status`` and the handshake
    (``flux-general-multi`` needs a multilingual one) read it."""

    name: str = "tiny.en"
    label: str = "Whisper tiny.en (English, CTranslate2)"
    multilingual: bool = False


@dataclass
class Engine:
    """The three models, loaded once per process and shared by every connection."""

    vad: Vad
    transcriber: Transcriber
    smart_turn: SmartTurnModel
    # Interim (Update-text) decodes, if they should go elsewhere than ``transcriber``
    # (metrics and benchmarks tell the two apart this way); None: ``transcriber``.
    interim_transcriber: Transcriber | None = None
    # Speaker embeddings, to end a turn where another voice starts (None: not listened for).
    speaker: SpeakerEncoder | None = None
    # Also compare the voices across every resumed pause, before the call's two voices are
    # known (``--voice-change``; ``voice_change.py``).
    voice_pauses: bool = False
    asr: AsrInfo = field(default_factory=AsrInfo)
