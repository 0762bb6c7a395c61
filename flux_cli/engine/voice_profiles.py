"""The voices of this call so far: notice another voice mid-speech, with no pause needed.

Why: the pause check (``voice_change.py``) compares half a second of new speech with the
turn's last 1.5 s, which separates the real and neural voices of ``twoparty_close`` poorly
(ROC AUC 0.83 on its train split's blocks), and it waits for a pause the VAD hears. Half a
second compared with the *call's two voices*, each the mean of many half-second blocks,
separates them far better (AUC 0.99 there with the voices known: ``docs/TURNS.md``, "The
call's voices"; ``benchmarks/voice_profiles.py``). So while speech goes on the engine embeds the
last ``block_s`` every ``hop_s``, keeps the vectors, and every ``refit_early`` blocks
(``refit_every`` once they are known) splits them into two groups (2-means by cosine). When the
two groups are far enough apart, both large enough, and come in runs as turns do (one voice
split by what it says flips between the groups every few blocks), the call has two voices.
Once known, each refit starts from the voices known (``track``; stop 27), so one voice's
monologue whose blocks fall in two kinds does not win the split and make the call forget them.
(Off by default: fewer blocks when the groups are clearly apart, ``clear_min_blocks`` with
``clear_runs``, tried at stops 26-27: ``docs/TURNS.md``.) Then a block that
sounds more like the other voice than the voice of the blocks just before it, by ``margin``, is
a change of speaker (``Dips`` says where it began; ``dip_margin``, off by default, asks less
of a block just after a dip, where a new voice often starts). Inside a turn "just before it"
means the turn's own blocks of the last second, two at least, so a turn that began at a
change is judged from its first second on; and once the voices are known a block is judged
every ``judge_hop_s`` (only the ``hop_s`` grid's blocks are kept). This is the engine's
default (``docs/TURNS.md`` has what it costs a single voice).

Pure numpy, no I/O: the caller embeds (``SpeakerEncoder.voice_vector``) and passes positions in
samples. A one-voice call rarely splits apart far enough, so it pays only the embeddings.
"""

from __future__ import annotations

import bisect
from collections import deque
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from flux_cli.engine.interfaces import SAMPLE_RATE

Vector = npt.NDArray[np.float32]


@dataclass(frozen=True)
class ProfileConfig:
    block_s: float = 0.48  # speech per embedding (and the decision's latency)
    hop_s: float = 0.16  # one block every this much audio
    judge_hop_s: float | None = 0.096  # inside a turn, blocks judged this often (None: hop_s)
    min_speech: float = 0.8  # share of a block's VAD windows that must be speech
    refit_every: int = 12  # blocks between two splits into groups (~2 s of speech)
    refit_early: int = 3  # ... while the two voices are not known yet (found sooner; cheap)
    separation: float = 0.76  # the two groups' centroids' cosine below this: two voices
    min_blocks: int = 15  # blocks in the smaller group (2.4 s of speech) before it counts
    clear_separation: float = 0.70  # ... but centroids' cosine below this: two voices sooner,
    clear_min_blocks: int = 15  # ... with this many in the smaller group (15: off; 8 was tried,
    # ending more changes but taking some single voices for two: docs/TURNS.md)
    clear_runs: int = 0  # ... and the smaller group in at most this many stretches (0: any)
    min_run: float = 6.5  # blocks in a row of one group, on average: voices take turns
    track: int = 1  # 1: once known, refit from the known voices first, then from scratch
    keep_fits: int = 0  # refits in a row that may fail before the known voices are forgotten
    margin: float = 0.12  # cosine to the other voice minus to the current one, to call a change
    # ... for a block just after a dip of the VAD's, where a new voice often starts (None:
    # ``margin``; 0.09, chosen on train splits at stop 28, traded cut-offs for changes held
    # out: docs/TURNS.md)
    dip_margin: float | None = None
    context_s: float = 1.0  # the blocks ending this long before a block say who was speaking
    own_blocks: int = 2  # ... of them inside the turn at least, to say who the turn's voice is
    # ... and if the turn has fewer in that second (its voice paused or trailed off just before
    # the block), its last blocks from this far back (None: the block is not judged, as before
    # stop 31; 3.0 ended 12 more held-out changes: docs/TURNS.md)
    context_fallback_s: float | None = 3.0
    max_blocks: int = 900  # the most recent blocks kept (2.4 min of speech)
    iterations: int = 10  # of 2-means


class VoiceProfiles:
    """One connection's voices: blocks in, "a different voice from here" out."""

    def __init__(self, config: ProfileConfig) -> None:
        self.config = config
        self._vectors: list[Vector] = []
        self._ends: list[int] = []  # each block's end (absolute samples)
        self._since_fit = 0
        self._added = 0  # blocks ever added (the refit grid)
        self._failed = 0  # refits in a row that did not find two voices since they were known
        self.voices: Vector | None = None  # (2, dim) unit centroids once two voices are heard

    @property
    def hop(self) -> int:
        return round(self.config.hop_s * SAMPLE_RATE)

    @property
    def judge_hop(self) -> int:
        hop = self.config.judge_hop_s
        return self.hop if hop is None else round(hop * SAMPLE_RATE)

    @property
    def block(self) -> int:
        return round(self.config.block_s * SAMPLE_RATE)

    def add(self, end: int, vector: Vector) -> None:
        """The block of speech ending at ``end`` (the stream's position: blocks come in order);
        refits the two groups when it is time."""
        c = self.config
        self._vectors.append(unit(np.asarray(vector, dtype=np.float32)))
        self._ends.append(end)
        if len(self._vectors) > c.max_blocks:
            del self._vectors[0], self._ends[0]
        self._since_fit += 1
        self._added += 1
        if self.voices is None:
            # one grid of the call's blocks (through ``min_blocks``'s first refit) however few
            # ``clear_min_blocks`` lets a split count with: such a setting changes what a refit
            # accepts, not when it looks
            due = (self._added - 2 * c.min_blocks) % c.refit_early == 0
        else:
            due = self._since_fit >= c.refit_every
        if due and len(self._vectors) >= 2 * min(c.min_blocks, c.clear_min_blocks):
            self._since_fit = 0
            self._refit(np.stack(self._vectors))

    def _refit(self, vectors: Vector) -> None:
        """Split the blocks into two voices again; known voices are tracked (the 2-means starts
        from them) and survive ``keep_fits`` failed refits in a row."""
        c = self.config
        fit = two_voices(vectors, c, self.voices) if self.voices is not None and c.track else None
        if fit is None:
            fit = two_voices(vectors, c)
        if fit is not None or self.voices is None:
            self.voices, self._failed = fit, 0
            return
        self._failed += 1
        if self._failed > c.keep_fits:
            self.voices, self._failed = None, 0

    def changed(self) -> bool:
        """Does the newest block sound like the other voice than the blocks just before it?"""
        if len(self._vectors) < 2:
            return False
        end = self._ends[-1]
        return self.other_voice(self._vectors[-1], end - self.block)

    def other_voice(self, vector: Vector, before: int, since: int | None = None,
                    *, dip: bool = False) -> bool:
        """Does the unit ``vector`` sound like the other voice than the blocks that end in the
        ``context_s`` before ``before`` (samples) do, of those that begin at ``since`` or later
        if given (a turn's own: ``own_blocks`` of them at least, else 3)? False until the call
        has two voices."""
        if self.voices is None:
            return False
        c = self.config
        lo, least = before - round(c.context_s * SAMPLE_RATE), 3
        if since is not None:
            lo, least = max(lo, since + self.block), c.own_blocks
        hi = bisect.bisect_right(self._ends, before)  # the ends are in order: see ``add``
        context = self._vectors[bisect.bisect_left(self._ends, lo):hi]
        if len(context) < least and since is not None and c.context_fallback_s is not None:
            lo = max(before - round(c.context_fallback_s * SAMPLE_RATE), since + self.block)
            context = self._vectors[bisect.bisect_left(self._ends, lo):hi][-least:]
        if len(context) < least:
            return False
        current = int(np.argmax(self.voices @ unit(np.mean(context, axis=0))))
        scores = self.voices @ vector
        margin = c.dip_margin if dip and c.dip_margin is not None else c.margin
        return bool(scores[1 - current] - scores[current] > margin)


def two_voices(vectors: Vector, config: ProfileConfig, start: Vector | None = None
               ) -> Vector | None:
    """2-means by cosine over unit ``vectors``, from the centroids ``start`` if given (else the
    block least like the mean and the block least like that one): the two centroids if they
    are two voices."""
    if start is None:
        seed = vectors[np.argmin(vectors @ unit(vectors.mean(axis=0)))]
        start = np.stack([seed, vectors[np.argmin(vectors @ seed)]])
    centroids = start
    labels = np.zeros(len(vectors), dtype=np.int64)
    for _ in range(config.iterations):
        labels = np.argmax(vectors @ centroids.T, axis=1)
        if labels.min() == labels.max():
            return None
        centroids = np.stack([unit(vectors[labels == k].mean(axis=0)) for k in (0, 1)])
    cosine, smaller = float(centroids[0] @ centroids[1]), int(np.bincount(labels).min())
    apart = (cosine < config.separation and smaller >= config.min_blocks) or (
        cosine < config.clear_separation and smaller >= config.clear_min_blocks
        and (not config.clear_runs or stretches(labels) <= config.clear_runs))
    return centroids if apart and mean_run(labels) >= config.min_run else None


def mean_run(labels: npt.NDArray[np.int64]) -> float:
    """How many blocks in a row fall in one group, on average. Two people take turns of
    seconds, so their groups come in long runs; one voice cut in two by what it says flips
    between the groups every few blocks (train splits: 7.4-12.1 blocks for two-party calls whose
    voices were found, 3.1-5.6 for one voice)."""
    flips = int(np.count_nonzero(np.diff(labels)))
    return len(labels) / (flips + 1)


def stretches(labels: npt.NDArray[np.int64]) -> int:
    """In how many stretches of blocks in a row the smaller group comes. A second person's
    first turn is one stretch; one voice that its words split in two seconds-long groups
    (flite's rms voice, a synthetic train call) comes back to the smaller group in two or more."""
    smaller = int(np.argmin(np.bincount(labels, minlength=2)))
    mine = labels == smaller
    return int(np.count_nonzero(mine & np.r_[True, ~mine[:-1]]))


def unit(v: npt.NDArray[np.float32]) -> Vector:
    """``v`` at length 1 (a zero vector stays zero)."""
    return (v / max(float(np.linalg.norm(v)), 1e-12)).astype(np.float32)


class Dips:
    """Where the VAD's probability dipped below ``level`` and came back: the short gaps between
    two people's turns that its hysteresis does not count as a pause (0-300 ms). A new voice's
    first ``block_s`` after a dip can be compared as soon as it is heard, and a change found
    later on the hop grid is placed at the dip rather than at its block's start."""

    def __init__(self, level: float = 0.5, keep: int = 8) -> None:
        self.level = level
        self._start: int | None = None  # where the current dip began
        self._recent: deque[tuple[int, int]] = deque(maxlen=keep)  # (dip start, onset)

    def step(self, p: float, start: int) -> tuple[int, int] | None:
        """The VAD window from ``start`` had probability ``p``: a dip that ends here, or None."""
        if p < self.level:
            if self._start is None:
                self._start = start
            return None
        if self._start is None:
            return None
        dip, self._start = (self._start, start), None
        self._recent.append(dip)
        return dip

    def earliest(self, after: int, until: int) -> tuple[int, int] | None:
        """The first dip whose speech onset lies in (``after``, ``until``]."""
        return next((dip for dip in self._recent if after < dip[1] <= until), None)
