"""The combined end-of-turn estimate: VAD silence, Smart Turn and the transcript's last words.

Each signal alone fails on synthetic speech (flat prosody fools Smart Turn; pauses inside a
turn fool a silence timer), but they fail on different pauses: "a table for…" is plainly
unfinished whatever the acoustics say. So the estimate is one logistic model,

    conf(s) = sigmoid(bias + w_smart · logit(p_smart) + lexical(text) + slope · (s - s0))

where ``s`` is the silence since the last speech, in seconds. Every constant lives in
:class:`DetectorConfig` so ``benchmarks`` can sweep them; nothing else in the engine hard-codes
a tuning number.

Measured on the benchmark corpus (each turn spoken as one utterance) with oracle turn starts
(evidence collected once per pause, then replayed by ``benchmarks/tune.py``; calls 0-5 tuned,
6-11 held out), at the default ``eot_threshold`` 0.7: false cut-offs 28% of inside pauses
(23% held out), end-of-turn latency p50 0.38 s, p90 0.86 s. Smart Turn alone (end at
p >= 0.5, else 3 s) cuts 43% with p50 3 s; VAD silence alone cuts 31% at 1.0 s latency and
55% at 0.6 s. ``eot_threshold`` 0.8: 13% at p50 0.60 s; 0.9: 7% at p50 0.92 s. End to end
(``benchmarks.run``): 23.7% cut-offs, p50 386 ms, p90 875 ms. See docs/TURNS.md.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

_CONF_MAX = 0.999  # eot_threshold=1.0 means "the model never ends a turn": never reach it


@dataclass(frozen=True)
class DetectorConfig:
    """Tuning constants of the VAD hysteresis, the decision points and the confidence model."""

    # VAD: a window is speech at p >= onset, and stays speech down to p >= offset.
    vad_onset: float = 0.5
    vad_offset: float = 0.35
    # A turn may start once this much speech is heard (and its decode is non-empty).
    min_start_speech_s: float = 0.192
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

    # Confidence model (logit units). Tuned on the benchmark corpus (12 synthetic calls, 288
    # turns, 350 inside pauses): there Smart Turn's probability carries no usable signal (AUC
    # 0.54 for turn ends vs inserted pauses, even with each turn spoken as one utterance), so
    # its weight came out 0 and the model is not even called. Raise ``w_smart`` for human
    # speech, where Smart Turn is strong.
    bias: float = 0.0
    w_smart: float = 0.0
    slope_per_s: float = 2.5
    s0: float = 0.2
    speaking_logit: float = -4.0  # while words are still coming
    undecided_logit: float = -2.5  # paused, before the decision point
    smart_clip: float = 0.02  # p is clipped to [clip, 1 - clip] before the logit

    # Lexical evidence about the transcript's ending (logit units, added to the bias); one
    # category per transcript, see ``ending_kind``.
    lex_ellipsis: float = -3.0  # Whisper writes "..." when the speech trails off
    lex_continuation: float = -6.0  # "and", "the", "for", "um": something must follow
    lex_verb: float = -6.0  # "my email is", "we will": a copula or auxiliary at the end
    lex_discourse: float = -6.0  # "Actually", "Sorry", "Honestly": a preamble on its own
    lex_hold: float = -3.0  # "Let me check.", "Give me a second.": the speaker asks for time
    lex_comma: float = -2.0
    lex_number: float = -0.75  # "my number is 5241": digits come in groups
    lex_question: float = 0.5
    lex_closing: float = 0.5  # "thank you", "bye", "that's all": a turn that is done
    lex_short_answer: float = 0.5  # "Yes.", "No", "Sure." on their own
    lex_period: float = 0.5
    lex_no_punct: float = -0.6
    # A finished-looking sentence this short is often a preamble ("Let me check.", "That is
    # fine."): added to the period / no-punctuation / question weights.
    short_turn_words: int = 4
    lex_short_turn: float = -1.0


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
    """Classify how the transcript ends; each kind has a ``lex_<kind>`` weight."""
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


def lexical_score(text: str, config: DetectorConfig = DEFAULT_CONFIG) -> float:
    """How much the transcript's ending says "finished" (> 0) or "more to come" (< 0)."""
    kind = ending_kind(text)
    if kind == "empty":
        return 0.0
    score = float(getattr(config, f"lex_{kind}"))
    words = _WORD.findall(text.lower())
    if (
        kind in ("period", "no_punct", "question")
        and len(words) <= config.short_turn_words
        and words[0] not in SHORT_ANSWERS  # "Yes, that works." is a whole reply
    ):
        score += config.lex_short_turn
    return score


@dataclass(frozen=True)
class PauseEvidence:
    """What the decision point of one pause found: Smart Turn's probability and the text."""

    smart_turn: float
    transcript: str


class Detector:
    """Turns the signals of the current state into ``end_of_turn_confidence``."""

    def __init__(self, config: DetectorConfig = DEFAULT_CONFIG) -> None:
        self.config = config

    def speaking(self) -> float:
        return sigmoid(self.config.speaking_logit)

    def undecided(self, silence_s: float) -> float:
        """A pause before its decision point: only its length is known."""
        c = self.config
        return min(sigmoid(c.undecided_logit + c.slope_per_s * (silence_s - c.s0)), _CONF_MAX)

    def base_logit(self, evidence: PauseEvidence) -> float:
        """The silence-independent part, computed once per pause."""
        c = self.config
        return (
            c.bias
            + c.w_smart * logit(evidence.smart_turn, c.smart_clip)
            + lexical_score(evidence.transcript, c)
        )

    def paused(self, base: float, silence_s: float) -> float:
        """A judged pause: a pause that goes on is more and more likely an end."""
        c = self.config
        return min(sigmoid(base + c.slope_per_s * (silence_s - c.s0)), _CONF_MAX)
