"""Whisper's own opinion of whether the words so far end a sentence, as a probability.

Why: the decode at a pause nearly always ends in a period (beam search on audio that stops
picks one), so Whisper's *written* punctuation says little. Its *probability* of writing
``.`` or ``?`` right after the last word, given the audio, says much more: the
decoder has heard the prosody and read the words. Measured on held-out pauses
(``benchmarks/text_end_signals.py``) it separates turn ends from mid-sentence pauses better
than the written punctuation, the ending classes or a text-only model.

Cost: one teacher-forced decoder pass (CTranslate2 ``align``) over the encoder output that the
decode already computed, for both endings at once (a batch of two); no second encode.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from flux_cli.engine.interfaces import Audio

# "!" is left out: Whisper rarely writes it on call speech, and each mark costs one sequence
# in the pass (measured: ~12 ms of CPU each on this project's machines).
SENTENCE_ENDS = (".", "?")


def strip_trailing(tokens: Sequence[int], is_word: Sequence[bool]) -> list[int]:
    """The tokens up to and including the last one that holds a letter or digit."""
    out = list(tokens)
    flags = list(is_word)
    while out and not flags[len(out) - 1]:
        out.pop()
    return out


def end_probability(token_probs: Sequence[float]) -> float:
    """P(a sentence-final mark next) from the probabilities of each mark, clipped to (0, 1)."""
    return min(max(math.fsum(token_probs), 1e-6), 1.0 - 1e-6)


class SentenceEnd:
    """Scores decodes of a loaded ``WhisperTranscriber`` (its model and tokenizer are shared)."""

    def __init__(self, transcriber: Any) -> None:
        import ctranslate2

        self._ct2 = ctranslate2
        self._t = transcriber
        tok = transcriber._tok
        self._ends = [int(tok.encode(mark)[0]) for mark in SENTENCE_ENDS]
        self._sot_sequence = list(transcriber._sot_sequence)
        self._tok = tok

    def _is_word(self, token: int) -> bool:
        return any(ch.isalnum() for ch in str(self._tok.decode([token])))

    def after(self, encoded: Any, tokens: Sequence[int],
              sot_sequence: Sequence[int] | None = None) -> float | None:
        """P(sentence end | the decoded ``tokens``, the audio behind ``encoded``); None when
        the decode holds no word. ``sot_sequence``: the start tokens the decode used (a
        multilingual model's carry the language); default: the transcriber's own."""
        words = strip_trailing(tokens, [self._is_word(t) for t in tokens])
        if not words:
            return None
        features = np.asarray(encoded)
        batch = self._ct2.StorageView.from_array(
            np.ascontiguousarray(np.repeat(features, len(self._ends), axis=0)))
        # The token probabilities do not depend on the frame count, which only bounds the
        # alignment search we do not use: 2 frames keep that search trivial.
        start = list(self._sot_sequence if sot_sequence is None else sot_sequence)
        results = self._t._model.align(batch, start,
                                       [[*words, end] for end in self._ends],
                                       [2] * len(self._ends))
        return end_probability([float(r.text_token_probs[-1]) for r in results])

    def decode(self, audio: Audio) -> tuple[str, list[int], Any, list[int]]:
        """The engine's decode of ``audio``: (text, tokens, encoder output, start tokens);
        ("", [], None, []) when it is not speech."""
        decoded, encoded, _mel, ranking = self._t._decode(np.asarray(audio, dtype=np.float32), [])
        if decoded is None:
            return "", [], None, []
        return decoded.text, list(decoded.tokens), encoded, list(self._t._sot_for(ranking))

    def probability(self, audio: Audio) -> tuple[str, float | None]:
        """Decode ``audio`` as the engine does and score its ending: (text, probability)."""
        text, tokens, encoded, start = self.decode(audio)
        return text, (self.after(encoded, tokens, start) if tokens else None)
