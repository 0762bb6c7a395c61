"""Where a pause ends a turn: VAD hysteresis and timing constants, the transcript's ending
classes, and the end-of-turn confidence of a judged pause.

The confidence itself is a learned model (``eot_model.py``, weights in ``eot_model.json``,
trained by ``benchmarks/eot_train.py`` on real, neural and synthetic speech): Smart Turn's
probability, how the transcript ends (``ending_kind``), the last word's confidence and
lengthening, the speaking rate, and the silence so far. Figures live in
``benchmarks/results/``; the design in ``docs/TURNS.md``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Protocol

from flux_cli.protocol import Word

_CONF_MAX = 0.999  # eot_threshold=1.0 means "the model never ends a turn": never reach it


@dataclass(frozen=True)
class DetectorConfig:
    """Tuning constants of the VAD hysteresis, the decision points and the confidence model."""

    # VAD: a window is speech at p >= onset, and stays speech down to p >= offset.
    vad_onset: float = 0.5
    vad_offset: float = 0.35
    # A turn may start once this much speech is heard (and its decode is non-empty).
    min_start_speech_s: float = 0.192
    # ... or, once its burst has been silent this long, this much speech: a short word.
    min_word_speech_s: float = 0.064
    short_word_wait_s: float = 0.096
    short_word_pad_s: float = 0.4  # audio kept before a short word's onset (quiet onsets)
    # A candidate burst whose decode stays empty is dropped after this much silence.
    candidate_drop_s: float = 0.6
    # Speech this long ends a pause (shorter blips are ignored).
    resume_speech_s: float = 0.064
    # Audio kept before the speech onset and after the speech end in every decode.
    start_pad_s: float = 0.2
    tail_pad_s: float = 0.15
    # Silence after which a pause is judged (decode + Smart Turn): the decision point.
    decide_after_s: float = 0.192
    # Smart Turn sees at most this much of the turn, ending at the decision point.
    smart_turn_window_s: float = 8.0
    # Whisper decodes at most this much; a longer turn commits its head and decodes the rest.
    max_decode_s: float = 25.0
    # Interim Update decodes in sync mode: at most one per this much audio.
    interim_interval_s: float = 0.5

    # Before a pause's decision point only its length is known (logit units).
    speaking_logit: float = -4.0  # while words are still coming
    undecided_logit: float = -2.5  # paused, before the decision point
    undecided_slope_per_s: float = 2.5
    smart_clip: float = 0.02  # p is clipped to [clip, 1 - clip] before the logit
    # The confidence of a judged pause; None: the committed learned model (``eot_model.json``).
    model: ConfidenceModel | None = None


DEFAULT_CONFIG = DetectorConfig()

# Words a spoken English sentence rarely ends on (conjunctions, fillers, articles, most
# prepositions, possessives, subject pronouns, "to"). Words that end short answers
# ("you", "I do", "it is") are deliberately left out.
CONTINUATION_WORDS = frozenset(
    [
        "and", "but", "or", "nor", "so", "because", "since", "although", "though", "if",
        "than", "which", "whose", "um", "uh", "er", "erm", "hmm", "the", "a", "an", "my",
        "your", "our", "their", "its", "to", "of", "for", "with", "in", "on", "at", "from",
        "by", "about", "into", "onto", "between", "during", "i", "we", "they", "he", "she",
        "it's", "i'm", "i'd", "i'll", "we're", "you're", "they're", "as", "plus", "just",
        "very", "every", "each", "around", "near", "through", "until", "toward", "towards", "via",
        "per"
    ]
)
# The speaker asks for time: whatever comes next is still their turn.
HOLD_PHRASES = (
    "let me check",
    "let me see",
    "let me think",
    "let me look",
    "give me a second",
    "give me one second",
    "give me a sec",
    "give me a moment",
    "give me a minute",
    "one second",
    "one moment",
    "just a second",
    "just a moment",
    "hold on",
    "hang on",
)
CLOSING_PHRASES = (
    "thank you",
    "thanks",
    "bye",
    "goodbye",
    "that's all",
    "that is all",
    "yes please",
    "no thanks",
    "no thank you",
    "see you",
    "have a nice day",
    "have a good day",
)
SHORT_ANSWERS = frozenset(
    [
        "yes", "yeah", "yep", "no", "nope", "okay", "ok", "sure", "right", "correct",
        "exactly", "great", "perfect", "fine", "alright", "absolutely", "definitely"
    ]
)

# Said before the point, not as it: "Actually, ...", "Sorry, ...".
DISCOURSE_WORDS = frozenset(
    ["actually", "honestly", "sorry", "well", "basically", "anyway", "also"]
)
# A sentence ending on these is waiting for its complement (unless it is a short reply).
VERB_ENDINGS = frozenset(
    [
        "is", "are", "was", "were", "am", "be", "been", "have", "has", "had", "will", "would",
        "can", "could", "should", "need", "want", "get", "do", "does", "did", "make", "take",
    ]
)

_WORD = re.compile(r"[a-z0-9']+")


def sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


def logit(p: float, clip: float) -> float:
    p = min(max(p, clip), 1.0 - clip)
    return math.log(p / (1.0 - p))


def ending_kind(text: str) -> str:
    """Classify how the transcript ends (one class each: a feature of the learned model)."""
    stripped = text.strip()
    words = _WORD.findall(stripped.lower())
    if not words:
        return "empty"
    last = words[-1]
    if stripped.endswith(("...", "…")):
        return "ellipsis"
    if last in CONTINUATION_WORDS:
        return "continuation"
    tail = " ".join(words[-4:])
    if any(tail.endswith(phrase) for phrase in HOLD_PHRASES):
        return "hold"
    if any(tail.endswith(phrase) for phrase in CLOSING_PHRASES):
        return "closing"
    if len(words) <= 2 and last in SHORT_ANSWERS:
        return "short_answer"
    if last in DISCOURSE_WORDS:
        return "discourse"
    short_reply = len(words) <= 3 and words[0] in SHORT_ANSWERS  # "Yes, I do.", "No, it is."
    if last in VERB_ENDINGS and len(words) >= 2 and not short_reply:
        return "verb"
    if stripped.endswith((",", ";", ":", "-", "—")):
        return "comma"
    if last[-1].isdigit():
        return "number"
    if stripped.endswith("?"):
        return "question"
    if stripped.endswith((".", "!")):
        return "period"
    return "no_punct"


def is_short_turn(text: str, kind: str, max_words: int) -> bool:
    """A finished-looking sentence this short is often a preamble ("Let me check.",
    "That is fine."), unless it starts like a reply ("Yes, that works.")."""
    words = _WORD.findall(text.lower())
    return (
        kind in ("period", "no_punct", "question")
        and 0 < len(words) <= max_words
        and words[0] not in SHORT_ANSWERS
    )


@dataclass(frozen=True)
class PauseEvidence:
    """What the decision point of one pause found (see ``eot_model.features``)."""

    smart_turn: float  # Smart Turn's probability that the turn is complete
    transcript: str  # the turn's decode up to the speech end
    words: tuple[Word, ...] = ()  # its words, with times and confidences
    speech_s: float = 0.0  # from the turn's start to the speech end


class ConfidenceModel(Protocol):
    """Evidence of a judged pause -> its logit as a line over the silence so far."""

    @property
    def uses_smart_turn(self) -> bool: ...

    def line(self, evidence: PauseEvidence) -> tuple[float, float]:
        """(base, slope): the logit after ``s`` seconds of silence is ``base + slope · s``."""
        ...


class Detector:
    """Turns the signals of the current state into ``end_of_turn_confidence``.

    While paused after the decision point: ``sigmoid(base + slope · s)``, where the model
    (by default the learned ``eot_model.json``) computes ``(base, slope)`` once per pause.
    """

    def __init__(self, config: DetectorConfig = DEFAULT_CONFIG) -> None:
        from flux_cli.server.eot_model import default_model

        self.config = config
        self.model: ConfidenceModel = config.model or default_model()

    def speaking(self) -> float:
        return sigmoid(self.config.speaking_logit)

    def undecided(self, silence_s: float) -> float:
        """A pause before its decision point: only its length is known."""
        c = self.config
        logit_ = c.undecided_logit + c.undecided_slope_per_s * (silence_s - c.decide_after_s)
        return min(sigmoid(logit_), _CONF_MAX)

    def judge(self, evidence: PauseEvidence) -> tuple[float, float]:
        """The pause's logit line (base, slope), computed once per pause."""
        return self.model.line(evidence)

    def paused(self, line: tuple[float, float], silence_s: float) -> float:
        """A judged pause: a pause that goes on is more and more likely an end."""
        base, slope = line
        return min(sigmoid(base + slope * silence_s), _CONF_MAX)
