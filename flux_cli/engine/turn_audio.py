"""The stream's recent audio, its decodes cached by slice, and how transcripts are joined.

A pause's decision point, ``EndOfTurn`` and ``CloseStream`` often ask for the same slice with
the same keyterms, and an interim decode started as the speech stops covers the slice the
decision point will ask for: each is decoded once. Positions are absolute sample indices.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np

from flux_cli.engine.interfaces import SAMPLE_RATE, Audio, Transcriber, Transcript
from flux_cli.engine.languages import LanguageChoice, merged
from flux_cli.protocol import Word

EMPTY = Transcript(text="", words=[])


class AudioBuffer:
    """The stream's recent audio, addressed by absolute sample index; old audio is dropped."""

    def __init__(self) -> None:
        self._data = np.zeros(SAMPLE_RATE * 4, dtype=np.float32)
        self._base = 0  # absolute index of _data[0]
        self._len = 0

    @property
    def start(self) -> int:
        """The oldest sample still held."""
        return self._base

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


SliceKey = tuple[int, int, tuple[str, ...], LanguageChoice | None]  # + keyterms, languages


class CachedDecoder:
    """Decodes slices of an ``AudioBuffer``; each slice with the same keyterms is decoded once.

    A background interim decode (``InterimJob``) of a slice registers it as in flight; the
    decision path asking for the same slice then waits for that decode instead of running a
    second one (the interim started just before, so waiting is never slower). A few recent
    results are kept: the decision point, ``EndOfTurn`` and ``CloseStream`` often ask again.
    """

    KEEP = 4

    def __init__(self, buffer: AudioBuffer, transcriber: Transcriber) -> None:
        self.buffer = buffer
        self.transcriber = transcriber
        self._done: dict[SliceKey, Transcript] = {}
        self._flight: dict[SliceKey, threading.Event] = {}
        self._lock = threading.Lock()
        # the stream's language choice (flux-general-multi; None: English): the session sets it
        self.languages: LanguageChoice | None = None

    def decode(self, start: int, end: int, hotwords: tuple[str, ...]) -> Transcript:
        """Decode [start, end) here, unless it is known or being decoded elsewhere."""
        key = (start, end, hotwords, self.languages)
        with self._lock:
            known = self._done.get(key)
            waiting = self._flight.get(key)
        if known is not None:
            return known
        if waiting is not None:
            waiting.wait()
            with self._lock:
                known = self._done.get(key)
            if known is not None:
                return known  # else that decode failed: do it here
        audio = self.buffer.slice(start, end)
        if len(audio) == 0:
            return EMPTY
        # a slice clipped by a trim begins later than asked: its words are timed from there
        offset = max(start, self.buffer.start) / SAMPLE_RATE
        result = self.transcriber.transcribe(audio, offset_s=offset,
                                             hotwords=hotwords, languages=self.languages)
        return self.put(key, result)

    def claim(self, key: SliceKey) -> bool:
        """Mark ``key`` as being decoded elsewhere; False if it is known or claimed already."""
        with self._lock:
            if key in self._done or key in self._flight:
                return False
            self._flight[key] = threading.Event()
            return True

    def put(self, key: SliceKey, result: Transcript) -> Transcript:
        """Keep a decode of ``key`` (and wake whoever waits for it)."""
        clean = Transcript(text=result.text.strip(), words=list(result.words),
                           languages=list(result.languages), sentence_end=result.sentence_end)
        with self._lock:
            self._done[key] = clean
            while len(self._done) > self.KEEP:
                del self._done[next(iter(self._done))]
            event = self._flight.pop(key, None)
        if event is not None:
            event.set()
        return clean

    def abandon(self, key: SliceKey) -> None:
        """A claimed decode failed or was dropped: waiters decode it themselves."""
        with self._lock:
            event = self._flight.pop(key, None)
        if event is not None:
            event.set()

    def forget(self) -> None:
        with self._lock:
            self._done.clear()


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
    ending = tail.sentence_end if has_words(tail.text) else head.sentence_end
    return Transcript(text=text, words=[*head.words, *tail.words],
                      languages=merged(head.languages, tail.languages), sentence_end=ending)


@dataclass
class InterimJob:
    """A snapshot of the current turn for a background decode (interim ``Update`` text).

    ``start`` may be later than the turn's decode start (a long turn's interims decode a
    bounded tail); ``head`` is then the earlier interim's words before it.
    """

    turn_serial: int
    start: int
    end: int
    audio: Audio
    offset_s: float
    hotwords: tuple[str, ...]
    transcriber: Transcriber
    decoder: CachedDecoder
    head: Transcript = field(default_factory=lambda: EMPTY)
    languages: LanguageChoice | None = None

    @property
    def key(self) -> SliceKey:
        return (self.start, self.end, self.hotwords, self.languages)

    def run(self) -> Transcript:
        """Decode (any thread); the result also serves a decision on the same slice."""
        try:
            result = self.transcriber.transcribe(
                self.audio, offset_s=self.offset_s, hotwords=self.hotwords,
                languages=self.languages,
            )
        except BaseException:
            self.decoder.abandon(self.key)
            raise
        return self.decoder.put(self.key, result)


def word_key(word: str) -> str:
    """A word as compared across a cut: lower case, no punctuation."""
    return "".join(c for c in word.lower() if c.isalnum() or c == "'")


def without_repeated_head(text: Transcript, ended_with: tuple[str, ...] | None) -> Transcript:
    """Drop the words at the start that repeat the end of the previous turn (up to all of
    ``ended_with``, its last words).

    After a ForceEndTurn in the middle of a word, Whisper completes that word in the turn
    that ends, and the next turn, decoded from a little before it, hears it again.
    """
    if not ended_with or not text.words:
        return text
    heads = [word_key(w.word) for w in text.words]
    for size in range(min(len(ended_with), len(heads)), 0, -1):
        if heads[:size] == list(ended_with[-size:]):
            words = text.words[size:]
            return Transcript(" ".join(w.word.strip() for w in words), words, text.languages,
                              text.sentence_end)
    return text
