"""How a transcript ends, in classes a sentence-final word or phrase falls into.

Whisper writes a period after many unfinished fragments, so the classes look at the last
*words* ("a table for", "my email is", "let me check"), not at the punctuation alone. English
only: the end-of-turn model reads these as features of an English transcript.
"""

from __future__ import annotations

import re

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


# Sentence punctuation of the other Flux languages' scripts (Japanese, Hindi's danda).
_FULL_STOPS = (".", "!", "\u3002", "\uff01", "\u0964")
_QUESTION_MARKS = ("?", "\uff1f")
_COMMAS = (",", ";", ":", "-", "\u2014", "\u3001", "\uff0c")


def punctuation_kind(text: str) -> str:
    """How a transcript the word lists cannot read ends, from its punctuation alone.

    The classes are a subset of ``ending_kind``'s, so the learned model's weights for them
    apply unchanged: Whisper punctuates every language it writes.
    """
    stripped = text.strip()
    if not any(ch.isalnum() for ch in stripped):
        return "empty"
    if stripped.endswith(("...", "\u2026")):
        return "ellipsis"
    if stripped.endswith(_COMMAS):
        return "comma"
    if stripped[-1].isdigit():
        return "number"
    if stripped.endswith(_QUESTION_MARKS):
        return "question"
    if stripped.endswith(_FULL_STOPS):
        return "period"
    return "no_punct"
