"""Did another voice start after a pause? In a mono call that ends the previous turn.

When speech resumes inside a turn, the first ``check_s`` of the new speech is compared with
the last ``reference_s`` of the turn's speech before the pause (a speaker embedding each,
cosine similarity). Below ``threshold`` the voices differ: the turn ended at the pause, and
the new speech is the next turn. Decided in audio time, once per resume, so it costs two
embeddings per resumed pause and nothing while one voice speaks on. A change with no pause
at all (overlap) is not seen here: the VAD has to hear a gap first.

With ``reference="turn"`` the reference stands for the turn's speaker rather than its last
moments: the normalised mean of the before-pause piece and of the turn's whole
``reference_s`` pieces so far (on a fixed grid from the turn's start, each embedded once as
the turn goes, so at most one extra embedding per ``reference_s`` of turn audio).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from flux_cli.engine.interfaces import SAMPLE_RATE, Audio, SpeakerEncoder


@dataclass(frozen=True)
class VoiceChangeConfig:
    check_s: float = 0.48  # new speech heard before comparing (the decision's latency)
    min_check_s: float = 0.32  # a resume shorter than this is not compared
    reference_s: float = 1.5  # the turn's speech before the pause that stands for its voice
    min_reference_s: float = 0.5
    threshold: float = 0.5  # cosine below this: another voice (benchmarks.voice_change --calibrate)
    reference: str = "last"  # "last": the last reference_s; "turn": the mean over the turn
    turn_pieces: int = 0  # "turn": the last N grid pieces only (0: all of them)
    skip_s: float = 0.0  # "turn": the grid starts this far into the turn (its onset left out)


@dataclass
class _Pending:
    pause_end: int  # where the turn's speech stopped (absolute samples)
    onset: int  # where the new speech began
    turn_start: int


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    denom = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(np.dot(a, b)) / denom if denom > 0 else 1.0


def unit(v: np.ndarray) -> np.ndarray:
    n = float(np.linalg.norm(v))
    return v / n if n > 0 else v


def turn_pieces(turn_start: int, end: int, config: VoiceChangeConfig) -> list[tuple[int, int]]:
    """The turn's whole ``reference_s`` pieces that end by ``end`` (a fixed grid from the
    turn's start, so a piece is the same slice at every pause and is embedded once)."""
    step = _samples(config.reference_s)
    first = turn_start + _samples(config.skip_s)
    return [(s, s + step) for s in range(first, end - step + 1, step)]


def mean_reference(last: np.ndarray, pieces: list[np.ndarray], config: VoiceChangeConfig
                   ) -> np.ndarray:
    """The turn's voice: the normalised mean of the before-pause piece and the grid pieces."""
    chosen = pieces[-config.turn_pieces:] if config.turn_pieces > 0 else pieces
    return unit(np.mean([unit(e) for e in [*chosen, last]], axis=0))


class VoiceWatch:
    """One connection's watch over resumed pauses (pure: the caller passes the audio)."""

    def __init__(self, encoder: SpeakerEncoder | None, config: VoiceChangeConfig) -> None:
        self.encoder = encoder
        self.config = config
        self._pending: _Pending | None = None
        self.last_similarity: float | None = None
        self._turn_start: int | None = None
        self._pieces: dict[tuple[int, int], np.ndarray | None] = {}  # this turn's grid

    def pieces_due(self, turn_start: int, pos: int) -> list[tuple[int, int]]:
        """Grid pieces of the turn that are complete and not embedded yet (``reference="turn"``
        only): the caller slices them while the audio is still buffered and calls ``add``."""
        if self.encoder is None or self.config.reference != "turn":
            return []
        if turn_start != self._turn_start:
            self._turn_start, self._pieces = turn_start, {}
        return [p for p in turn_pieces(turn_start, pos, self.config) if p not in self._pieces]

    def add(self, piece: tuple[int, int], audio: Audio) -> None:
        """Embed one grid piece (None if the buffer no longer held enough of it)."""
        assert self.encoder is not None
        enough = len(audio) >= _samples(self.config.min_reference_s)
        self._pieces[piece] = self.encoder.embed(audio) if enough else None

    def resumed(self, pause_end: int, onset: int, turn_start: int) -> None:
        """Speech came back in a turn: compare once ``check_s`` of it has been heard."""
        if self.encoder is not None:
            self._pending = _Pending(pause_end, onset, turn_start)

    def clear(self) -> None:
        self._pending = None

    def due(self, pos: int, *, speaking: bool) -> bool:
        """Time to compare: enough new speech, or the new speech stopped after enough of it."""
        p = self._pending
        if p is None:
            return False
        heard = pos - p.onset
        if heard >= _samples(self.config.check_s):
            return True
        if not speaking:
            if heard >= _samples(self.config.min_check_s):
                return True
            self._pending = None  # a blip of a resume: nothing to compare
        return False

    def window(self) -> tuple[tuple[int, int], tuple[int, int]] | None:
        """The two slices to compare: (before the pause, after it); None if too short."""
        p = self._pending
        if p is None:
            return None
        c = self.config
        before = (max(p.turn_start, p.pause_end - _samples(c.reference_s)), p.pause_end)
        after = (p.onset, p.onset + _samples(c.check_s))
        if before[1] - before[0] < _samples(c.min_reference_s):
            return None
        return before, after

    def changed(self, before: Audio, after: Audio) -> bool:
        """Compare the two voices (and forget the pending check)."""
        p, self._pending = self._pending, None
        assert self.encoder is not None
        reference = self.encoder.embed(before)
        if self.config.reference == "turn" and p is not None:
            grid = turn_pieces(p.turn_start, p.pause_end, self.config)
            pieces = [e for e in (self._pieces.get(g) for g in grid) if e is not None]
            reference = mean_reference(reference, pieces, self.config)
        similarity = cosine(reference, self.encoder.embed(after))
        self.last_similarity = similarity
        return similarity < self.config.threshold

    @property
    def onset(self) -> int | None:
        return None if self._pending is None else self._pending.onset

    @property
    def pause_end(self) -> int | None:
        return None if self._pending is None else self._pending.pause_end


def _samples(seconds: float) -> int:
    return round(seconds * SAMPLE_RATE)
