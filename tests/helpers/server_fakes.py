"""Scripted stand-ins for the three models, for tests of the session and the app.

They read the audio itself: a window is "speech" when it is loud, and the transcript has one
word per 0.25 s of loud audio. So a test script is just audio made of loud and quiet parts,
and neither chunking nor pacing can change what the fakes see.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from flux_cli.engine.detector import DEFAULT_CONFIG
from flux_cli.engine.eot_model import EotModel
from flux_cli.engine.interfaces import SAMPLE_RATE, VAD_WINDOW, Audio, Engine, Transcript
from flux_cli.engine.languages import LanguageChoice
from flux_cli.protocol import Word

NATO = [
    "alfa", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliett",
    "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo", "sierra", "tango",
]
LOUD = 0.5


class LevelVad:
    """Speech probability from the window's level; keeps a remainder like the real one."""

    def __init__(self) -> None:
        self._rest = np.zeros(0, dtype=np.float32)

    def process(self, samples: Audio) -> list[float]:
        data = np.concatenate([self._rest, samples])
        n = len(data) // VAD_WINDOW
        self._rest = data[n * VAD_WINDOW :]
        windows = data[: n * VAD_WINDOW].reshape(n, VAD_WINDOW)
        return [0.95 if float(np.abs(w).mean()) > 0.1 else 0.02 for w in windows]


class CountingTranscriber:
    """One word per 0.25 s of loud audio; ``ending`` is appended to the text (e.g. "." or "and")."""

    def __init__(self, ending: str = ".") -> None:
        self.ending = ending
        self.calls = 0
        self.hotwords: list[tuple[str, ...]] = []

    def transcribe(
        self, audio: Audio, *, offset_s: float, hotwords: Sequence[str] = (),
        languages: LanguageChoice | None = None,
    ) -> Transcript:
        self.calls += 1
        self.hotwords.append(tuple(hotwords))
        loud = np.flatnonzero(np.abs(audio) > 0.1)
        n = int(len(loud) / (SAMPLE_RATE // 4) + 0.1)
        if n == 0:
            return Transcript(text="", words=[])
        words = [
            Word(NATO[i % len(NATO)], 0.9, offset_s + loud[0] / SAMPLE_RATE + i * 0.25,
                 offset_s + loud[0] / SAMPLE_RATE + (i + 1) * 0.25)
            for i in range(n)
        ]
        text = " ".join(w.word for w in words)
        if self.ending == ".":
            text += "."
        elif self.ending:
            text += f" {self.ending}"
            words.append(Word(self.ending, 0.9, words[-1].end, words[-1].end))
        return Transcript(text=text, words=words)


class FixedSmartTurn:
    def __init__(self, p: float = 0.9) -> None:
        self.p = p
        self.calls = 0

    def predict(self, audio: Audio) -> float:
        self.calls += 1
        return self.p


def loud(seconds: float) -> Audio:
    n = round(seconds * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    return (LOUD * np.sign(np.sin(2 * np.pi * 220 * t)) + 0.0).astype(np.float32)


def quiet(seconds: float) -> Audio:
    return np.zeros(round(seconds * SAMPLE_RATE), dtype=np.float32)


def script(*parts: tuple[str, float]) -> Audio:
    return np.concatenate([loud(s) if kind == "speech" else quiet(s) for kind, s in parts])


class LevelVadFactory:
    def new_stream(self) -> LevelVad:
        return LevelVad()


def fake_engine(*, ending: str = ".", p_smart: float = 0.9) -> Engine:
    return Engine(
        vad=LevelVadFactory(),
        transcriber=CountingTranscriber(ending),
        smart_turn=FixedSmartTurn(p_smart),
    )


# Test scenarios are worked out for these constants; training the model must not move them:
# conf = sigmoid(0.6 + 0.5·logit(p_smart) + lexical + 2.0·(s - 0.2)), the hand-set form.
PINNED_MODEL = EotModel(
    {
        "bias": 0.6 - 2.0 * 0.2,
        "silence_s": 2.0,
        "smart_logit": 0.5,
        "kind_period": 0.4,
        "kind_continuation": -3.0,
        "kind_no_punct": -0.6,
        "kind_ellipsis": -3.0,
        "kind_verb": -6.0,
        "kind_discourse": -6.0,
        "kind_hold": -3.0,
        "kind_comma": -2.0,
        "kind_number": -0.75,
        "kind_question": 0.5,
        "kind_closing": 0.5,
        "kind_short_answer": 0.5,
    }
)
# The fake voices are steady waves: every window of one is as loud as the next, so it would be
# its own floor and never heard above it (``level_floor.py``), and the pause gate would take it
# for babble (``pause_gate.py``); speech is not steady. Tests of the floor and the gate turn
# them on (``tests/test_voice_change.py``, ``tests/test_engine_pause_gate.py``).
PINNED = dataclasses.replace(
    DEFAULT_CONFIG, decide_after_s=0.192, undecided_slope_per_s=2.0, model=PINNED_MODEL,
    voice_change=dataclasses.replace(DEFAULT_CONFIG.voice_change, over_floor_db=None),
    pause_gate=None,
)
