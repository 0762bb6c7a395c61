"""Is this sentence finished? A text end-of-utterance probability from the words alone.

Why: Whisper writes a period after many unfinished fragments ("I'd like to book a table for.")
and the turn detector cannot tell a question stopped before its object from a finished one by
punctuation. This model never sees punctuation or case: it reads the last few words (and the
first ones, and the length) of the transcript, as hashed n-gram features, and returns the
probability that a speaker who stopped there has finished the sentence.

It is a logistic regression trained by ``benchmarks/train_text_eou.py`` on conversational
text from a package (complete messages against their prefixes cut at word boundaries), never
on the project's evaluation texts; weights live in ``text_eou.npz`` beside this file. Scoring
is a few dozen hash lookups in numpy: microseconds, no model runtime.
"""

from __future__ import annotations

import math
import re
import zlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

WEIGHTS_FILE = Path(__file__).with_name("text_eou.npz")
START = "<s>"
NUMBER = "<num>"

_APOSTROPHES = re.compile(r"['\u2019`]")
_TOKEN = re.compile(r"[a-z0-9]+")
_LENGTH_BUCKETS = (1, 2, 3, 4, 6, 9, 14, 20)


def words(text: str) -> list[str]:
    """Lower-case words without punctuation; apostrophes dropped ("I'm" = "im", as people
    type it); any token with a digit is one number token (Whisper writes "739" for "seven
    three nine")."""
    flat = _APOSTROPHES.sub("", text.lower())
    return [NUMBER if any(c.isdigit() for c in t) else t for t in _TOKEN.findall(flat)]


def _length_bucket(n: int) -> int:
    for i, edge in enumerate(_LENGTH_BUCKETS):
        if n <= edge:
            return i
    return len(_LENGTH_BUCKETS)


def feature_names(tokens: list[str]) -> list[str]:
    """The named features of a word sequence: n-grams anchored at its end, its start, its
    length. Short texts are padded with a start token so "yes" differs from "... yes"."""
    padded = [START] * 4 + tokens
    w1, w2, w3, w4 = padded[-1], padded[-2], padded[-3], padded[-4]
    first = tokens[0] if tokens else START
    second = tokens[1] if len(tokens) > 1 else START
    length = _length_bucket(len(tokens))
    return [
        "bias",
        f"1:{w1}",
        f"2:{w2}|{w1}",
        f"3:{w3}|{w2}|{w1}",
        f"4:{w4}|{w3}|{w2}|{w1}",
        f"p2:{w2}",
        f"p3:{w3}",
        f"f:{first}",
        f"ff:{first}|{second}",
        f"fl:{first}|{w1}",
        f"n:{length}",
        f"nl:{length}|{w1}",
    ]


def hashed(names: list[str], bits: int) -> np.ndarray:
    """Feature names -> indices in a table of ``2**bits`` weights (CRC-32: stable across
    processes and machines, unlike ``hash``)."""
    mask = (1 << bits) - 1
    return np.array([zlib.crc32(n.encode()) & mask for n in names], dtype=np.int64)


@dataclass(frozen=True)
class TextEndOfUtterance:
    """Hashed-feature logistic regression: ``probability(text)`` that the words end a sentence."""

    weights: np.ndarray  # float32, 2**bits
    bits: int

    def logit(self, text: str) -> float:
        return float(self.weights[hashed(feature_names(words(text)), self.bits)].sum())

    def probability(self, text: str) -> float:
        """P(finished | the words so far); an empty text is unfinished by definition."""
        if not words(text):
            return 0.0
        z = self.logit(text)
        return 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))

    def save(self, path: Path = WEIGHTS_FILE, **info: str) -> None:
        """float16 weights (half the size; scores move by < 0.001) and what made them."""
        arrays: dict[str, Any] = {f"info_{k}": np.array(v) for k, v in info.items()}
        np.savez_compressed(path, weights=self.weights.astype(np.float16),
                            bits=np.array(self.bits), **arrays)

    @classmethod
    def load(cls, path: Path = WEIGHTS_FILE) -> TextEndOfUtterance:
        with np.load(path) as data:
            return cls(data["weights"].astype(np.float32), int(data["bits"]))


@lru_cache(maxsize=1)
def default_model() -> TextEndOfUtterance:
    """The committed weights, read once per process."""
    return TextEndOfUtterance.load()
