"""Speech activity on one channel of a call: a plain energy detector, on purpose.

Why energy and not Silero: a call's channels are separate recordings of one voice each, so
the loudness of the channel says who talks far more reliably than it does on a mix; the
rule is a few lines anyone can check and the same on every machine; it needs no model
(``flux eval`` on a remote server works without the ``[local]`` extra); and, most of all,
the truth must not come from the very VAD the local engine under test uses (Silero), or
the engine would be graded by its own ears.

The rule (``ActivityRule``): 20 ms frames every 10 ms; a frame's level is its RMS in dBFS;
the channel's noise floor is the 10th percentile of its frame levels and its speech level
the 95th; a frame is speech when its level is above the highest of floor + 12 dB, speech
level - 30 dB and -60 dBFS. Dips under 50 ms are bridged (inside a word), then speech runs
shorter than 80 ms are clicks and dropped; silences
shorter than the pause rule's minimum (``GapRule.min_pause_s``) are closed up by the caller.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from flux_cli.evaluate.truth import Segment


@dataclass(frozen=True)
class ActivityRule:
    frame_s: float = 0.020
    hop_s: float = 0.010
    above_floor_db: float = 12.0
    below_speech_db: float = 30.0
    absolute_db: float = -60.0
    min_speech_s: float = 0.08
    dip_s: float = 0.05  # a dip this short inside a word is not a silence

    def describe(self) -> str:
        return (
            f"energy VAD: {self.frame_s * 1000:g} ms frames every {self.hop_s * 1000:g} ms, "
            f"speech above max(floor + {self.above_floor_db:g} dB, "
            f"speech level - {self.below_speech_db:g} dB, {self.absolute_db:g} dBFS), "
            f"bursts under {self.min_speech_s * 1000:g} ms dropped"
        )


DEFAULT_ACTIVITY_RULE = ActivityRule()


def frame_levels(audio: np.ndarray, rate: int, rule: ActivityRule) -> np.ndarray:
    """RMS level (dBFS) of each frame, one frame every ``hop_s`` from the first sample."""
    frame = max(1, round(rule.frame_s * rate))
    hop = max(1, round(rule.hop_s * rate))
    x = np.asarray(audio, dtype=np.float64).reshape(-1)
    if x.size < frame:
        x = np.concatenate([x, np.zeros(frame - x.size)])
    count = 1 + (x.size - frame) // hop
    energy = np.cumsum(np.concatenate([[0.0], x * x]))
    starts = np.arange(count) * hop
    mean = (energy[starts + frame] - energy[starts]) / frame
    return np.asarray(10 * np.log10(np.maximum(mean, 1e-12)))


def threshold_db(levels: np.ndarray, rule: ActivityRule) -> float:
    floor = float(np.percentile(levels, 10))
    loud = float(np.percentile(levels, 95))
    return max(floor + rule.above_floor_db, loud - rule.below_speech_db, rule.absolute_db)


def runs(flags: np.ndarray, hop_s: float, frame_s: float) -> list[Segment]:
    """Runs of True frames as (start, end) seconds; a frame covers [i*hop, i*hop + frame)."""
    padded = np.concatenate([[False], flags.astype(bool), [False]])
    edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
    out: list[Segment] = []
    for first, stop in zip(edges[::2], edges[1::2], strict=True):
        out.append((round(float(first) * hop_s, 3), round(float(stop - 1) * hop_s + frame_s, 3)))
    return out


def close_gaps(segments: list[Segment], min_gap_s: float) -> list[Segment]:
    """Join segments whose silence between them is shorter than ``min_gap_s``."""
    out: list[Segment] = []
    for start, end in segments:
        if out and start - out[-1][1] < min_gap_s:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def speech_segments(
    audio: np.ndarray, rate: int, rule: ActivityRule = DEFAULT_ACTIVITY_RULE
) -> list[Segment]:
    """Where this channel speaks, by ``rule`` (no gap closing: that is the pause rule's)."""
    levels = frame_levels(audio, rate, rule)
    if levels.size == 0:
        return []
    flags = levels > threshold_db(levels, rule)
    found = close_gaps(runs(flags, rule.hop_s, rule.frame_s), rule.dip_s)
    duration = len(audio) / rate
    return [(a, min(b, duration)) for a, b in found if b - a >= rule.min_speech_s]
