"""The stream's recent audio, its decodes cached by slice, and how transcripts are joined.

A pause's decision point, ``EndOfTurn`` and ``CloseStream`` often ask for the same slice with
the same keyterms: it is decoded once. Positions are absolute sample indices.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from flux_cli.engine.interfaces import SAMPLE_RATE, Audio, Transcriber, Transcript
from flux_cli.protocol import Word

EMPTY = Transcript(text="", words=[])


class AudioBuffer:
    """The stream's recent audio, addressed by absolute sample index; old audio is dropped."""

    def __init__(self) -> None:
        self._data = np.zeros(SAMPLE_RATE * 4, dtype=np.float32)
        self._base = 0  # absolute index of _data[0]
        self._len = 0

    @property
    def end(self) -> int:
        return self._base + self._len

    def append(self, samples: Audio) -> None:
        need = self._len + len(samples)
        if need > len(self._data):
            grown = np.zeros(max(need, 2 * len(self._data)), dtype=np.float32)
            grown[: self._len] = self._data[: self._len]
            self._data = grown
        self._data[self._len : need] = samples
        self._len = need

    def slice(self, start: int, end: int) -> Audio:
        """A copy of [start, end), clipped to what is still held."""
        lo = max(start, self._base) - self._base
        hi = max(min(end, self.end) - self._base, lo)
        return self._data[lo:hi].copy()

    def trim_before(self, sample: int) -> None:
        drop = min(max(sample - self._base, 0), self._len)
        if drop < SAMPLE_RATE:  # move memory only when it is worth it
            return
        self._data[: self._len - drop] = self._data[drop : self._len]
        self._len -= drop
        self._base += drop


class CachedDecoder:
    """Decodes slices of an ``AudioBuffer``; the last slice's result is kept."""

    def __init__(self, buffer: AudioBuffer, transcriber: Transcriber) -> None:
        self.buffer = buffer
        self.transcriber = transcriber
        self._cache: tuple[tuple[int, int, tuple[str, ...]], Transcript] | None = None

    def decode(self, start: int, end: int, hotwords: tuple[str, ...]) -> Transcript:
        """Decode [start, end); the same slice with the same keyterms is decoded once."""
        key = (start, end, hotwords)
        if self._cache is not None and self._cache[0] == key:
            return self._cache[1]
        audio = self.buffer.slice(start, end)
        if len(audio) == 0:
            return EMPTY
        result = self.transcriber.transcribe(audio, offset_s=start / SAMPLE_RATE,
                                             hotwords=hotwords)
        result = Transcript(text=result.text.strip(), words=list(result.words))
        self._cache = (key, result)
        return result

    def forget(self) -> None:
        self._cache = None


def has_words(text: str) -> bool:
    """A decode like "..." or "" is no speech: it must not start a turn."""
    return any(ch.isalnum() for ch in text)


def plain_word(word: Word) -> Word:
    """A copy with plain floats (models may hand back numpy scalars)."""
    return Word(
        word=str(word.word),
        confidence=float(word.confidence),
        start=None if word.start is None else float(word.start),
        end=None if word.end is None else float(word.end),
    )


def join_transcripts(head: Transcript, tail: Transcript) -> Transcript:
    text = " ".join(part for part in (head.text.strip(), tail.text.strip()) if part)
    return Transcript(text=text, words=[*head.words, *tail.words])


@dataclass
class InterimJob:
    """A snapshot of the current turn for a background decode (interim ``Update`` text)."""

    turn_serial: int
    end: int
    audio: Audio
    offset_s: float
    hotwords: tuple[str, ...]
    transcriber: Transcriber

    def run(self) -> Transcript:
        return self.transcriber.transcribe(
            self.audio, offset_s=self.offset_s, hotwords=self.hotwords
        )
