"""The learned end-of-turn model: a logistic regression over a judged pause's evidence.

Why logistic: its output is a probability that stays calibrated when trained as a hazard
("the speaker has been silent ``s`` seconds and this is what we know: is the turn over?"), so
``eot_threshold`` and ``eager_eot_threshold`` keep their meaning; it scores in microseconds
with plain Python; and each weight can be read. Weights live in ``eot_model.json`` beside this
file, written by ``benchmarks/eot_train.py`` (which says what it was trained on).

The silence enters linearly, alone (``silence_s``) and times some features (``<name>*s``: how
fast the confidence rises may depend on what was heard), so a pause's confidence is
``sigmoid(base + slope · s)`` with ``base`` and ``slope`` computed once per pause.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from flux_cli.engine.endings import SHORT_ANSWERS, ending_kind, is_short_turn, punctuation_kind
from flux_cli.engine.evidence import PauseEvidence, logit
from flux_cli.engine.languages import TEXT_FEATURE_LANGUAGES, UNSPACED_LANGUAGES

MODEL_FILE = Path(__file__).with_name("eot_model.json")
SILENCE = "silence_s"
SMART = "smart_logit"
INTERACTION = "*s"  # suffix of a feature's weight on the silence slope
SMART_CLIP = 0.02
SHORT_TURN_WORDS = 4
TEXT = "text_eou"  # is the sentence finished, from its words (``models/text_eou.py``)
TEXT_CLIP = 0.01
WHISPER_END = "whisper_end"  # Whisper's P(. or ? next) after the words (``sentence_end.py``)


def text_eou_logit(text: str) -> float:
    """The text model's logit, clipped like Smart Turn's (it reads English words)."""
    from flux_cli.engine.models.text_eou import default_model

    return logit(default_model().probability(text), TEXT_CLIP)


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def features(evidence: PauseEvidence) -> dict[str, float]:
    """The named features of one judged pause (absent features are 0).

    The word features (the ending's class from its words, short turns, reply words) read
    English word lists: on a turn detected as another language only its punctuation, the
    last word's confidence and the timing speak; in a language written without spaces
    (Japanese) word counts, speaking rate and the last word's length are left out too.
    """
    text = evidence.transcript
    language = evidence.language or "en"
    readable = language in TEXT_FEATURE_LANGUAGES
    kind = ending_kind(text) if readable else punctuation_kind(text)
    out: dict[str, float] = {"bias": 1.0, SMART: logit(evidence.smart_turn, SMART_CLIP)}
    if kind == "empty":
        return out
    out[f"kind_{kind}"] = 1.0
    if readable:
        out[TEXT] = text_eou_logit(text)
    if readable and evidence.sentence_end is not None:
        out[WHISPER_END] = logit(evidence.sentence_end, TEXT_CLIP)
    if readable and is_short_turn(text, kind, SHORT_TURN_WORDS):
        out["short_turn"] = 1.0
    if evidence.words:
        out["last_conf"] = float(evidence.words[-1].confidence)
    if language in UNSPACED_LANGUAGES:
        return out
    n_words = max(len(evidence.words), len(text.split()))
    out["log_words"] = math.log1p(n_words)
    if evidence.speech_s > 0:
        out["rate"] = min(n_words / max(evidence.speech_s, 0.3), 6.0)
    if evidence.words:
        spans = [
            (w.end - w.start) for w in evidence.words if w.start is not None and w.end is not None
        ]
        if len(spans) >= 3 and spans[-1] > 0:
            # Final lengthening: speakers stretch the last word of a finished sentence.
            typical = _median(spans[:-1])
            if typical > 0:
                out["last_stretch"] = max(-2.0, min(2.0, math.log(spans[-1] / typical)))
        first = evidence.words[0].word.lower().strip(".,!?")
        if readable and n_words <= 2 and first in SHORT_ANSWERS:
            out["reply_word"] = 1.0
    return out


@dataclass(frozen=True)
class EotModel:
    """Named logistic weights; ``silence_s`` is the slope per second of silence."""

    weights: Mapping[str, float]
    info: Mapping[str, object] = field(default_factory=dict)

    @property
    def uses_smart_turn(self) -> bool:
        return self.uses(SMART)

    def uses(self, feature: str) -> bool:
        """Whether ``feature`` has a weight (the engine computes only what is weighed)."""
        return bool(self.weights.get(feature, 0.0) or self.weights.get(feature + INTERACTION, 0.0))

    def line(self, evidence: PauseEvidence) -> tuple[float, float]:
        """(base, slope): the pause's logit is ``base + slope · s`` after ``s`` s of silence."""
        base = 0.0
        slope = self.weights.get(SILENCE, 0.0)
        for name, value in features(evidence).items():
            base += self.weights.get(name, 0.0) * value
            slope += self.weights.get(name + INTERACTION, 0.0) * value
        return base, slope

    def to_json(self) -> str:
        return json.dumps({"weights": dict(self.weights), "info": dict(self.info)}, indent=1)

    @classmethod
    def from_json(cls, text: str) -> EotModel:
        data = json.loads(text)
        return cls({str(k): float(v) for k, v in data["weights"].items()}, data.get("info", {}))


@lru_cache(maxsize=1)
def default_model() -> EotModel:
    """The committed model, read once per process."""
    return EotModel.from_json(MODEL_FILE.read_text())
