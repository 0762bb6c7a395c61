"""Two-channel calls built from the committed clips, with the turn-taking we put in them.

A call is a list of parts: which channel speaks which clip, and the silence between the
end of the previous part's speech and the start of this one's (negative: an overlap). The
clips' own speech extents are measured once by a rule independent of the evaluator's VAD
(10 ms frames above -40 dBFS, as ``samples/labels.json`` states its positions), so "what was
built" is known without asking the code under test.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from helpers.speech import RATE, load_clip


@dataclass(frozen=True)
class Part:
    channel: int
    clip: str
    gap: float


@dataclass(frozen=True)
class Placed:
    channel: int
    clip: str
    start: float  # where the clip's speech starts in the call (seconds)
    end: float


def speech_extent(audio: np.ndarray, rate: int = RATE) -> tuple[float, float]:
    """First and last 10 ms frame above -40 dBFS (seconds)."""
    hop = rate // 100
    frames = audio[: len(audio) // hop * hop].reshape(-1, hop)
    level = 10 * np.log10(np.maximum((frames.astype(np.float64) ** 2).mean(axis=1), 1e-12))
    loud = np.flatnonzero(level > -40)
    return float(loud[0] * hop / rate), float((loud[-1] + 1) * hop / rate)


def build_call(
    parts: list[Part],
    *,
    lead: float = 0.5,
    tail: float = 2.5,
    noise_dbfs: float | None = -70.0,
    bleed_db: float | None = None,
    seed: int = 0,
) -> tuple[np.ndarray, list[Placed]]:
    """A (samples, 2) float32 call and where each part's speech was placed.

    ``bleed_db``: the other channel leaks into each channel this many dB down (echo).
    """
    placed: list[Placed] = []
    pieces: list[tuple[int, int, np.ndarray]] = []
    cursor = lead
    for part in parts:
        audio, _ = load_clip(part.clip)
        first, last = speech_extent(audio)
        start = cursor + part.gap if placed else lead
        offset = round((start - first) * RATE)
        assert offset >= 0, f"{part.clip} would start before the call"
        pieces.append((part.channel, offset, audio))
        placed.append(Placed(part.channel, part.clip, offset / RATE + first,
                             offset / RATE + last))
        cursor = offset / RATE + last
    length = max(offset + len(audio) for _, offset, audio in pieces) + round(tail * RATE)
    call = np.zeros((length, 2), dtype=np.float32)
    for channel, offset, audio in pieces:
        call[offset: offset + len(audio), channel] += audio
    if bleed_db is not None:
        leak = 10 ** (bleed_db / 20)
        call = call + leak * call[:, ::-1]
    if noise_dbfs is not None:
        rng = np.random.default_rng(seed)
        noise = np.asarray(rng.normal(0, 10 ** (noise_dbfs / 20), call.shape), np.float32)
        call = call + noise
    return call.astype(np.float32), placed


def write_call(path: Path, call: np.ndarray) -> Path:
    sf.write(path, call, RATE, subtype="PCM_16")
    return path
