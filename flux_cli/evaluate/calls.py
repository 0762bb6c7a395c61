"""Open one call and find its truth: the channels of a stereo recording, or its labels.

The audio is read through the same sources ``flux transcribe`` uses, so a file that cannot
be streamed fails here, with the same one-line error, before anything connects.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from flux_cli.errors import AudioInputError, UsageError
from flux_cli.evaluate.activity import DEFAULT_ACTIVITY_RULE, ActivityRule, speech_segments
from flux_cli.evaluate.gaps import DEFAULT_GAP_RULE, GapRule, derive
from flux_cli.evaluate.labels import LabelError, read_labels
from flux_cli.evaluate.truth import CallTruth

LABEL_SUFFIXES = (".txt", ".rttm", ".json")


@dataclass(frozen=True)
class TruthSource:
    """How to find every call's truth: its channels, or labels (a file or a directory)."""

    speaker_channel: int | None = 0
    labels: str | None = None
    speaker: str | None = None
    activity: ActivityRule = DEFAULT_ACTIVITY_RULE
    gaps: GapRule = DEFAULT_GAP_RULE


def read_channel(path: str, channel: int) -> tuple[np.ndarray, int]:
    """One channel of a file as float32, and its sample rate."""
    from flux_cli.audio import open_source

    source = open_source(path, channel=channel)
    try:
        blocks = list(source.blocks())
    finally:
        source.close()
    audio = np.concatenate(blocks) if blocks else np.zeros(0, np.float32)
    return audio, int(source.sample_rate)


def channel_count(path: str) -> tuple[int, float]:
    """The file's channels and duration (seconds), or its one-line AudioInputError."""
    from flux_cli.audio import open_source

    source = open_source(path)
    try:
        return int(source.channels), float(source.duration_s or 0.0)
    finally:
        source.close()


def labels_for(call: str, labels: str) -> Path:
    """The label file of ``call``: ``labels`` itself, or ``<stem>.txt|.rttm|.json`` in it."""
    where = Path(labels)
    if not where.is_dir():
        return where
    stem = Path(call).stem
    for suffix in LABEL_SUFFIXES:
        candidate = where / f"{stem}{suffix}"
        if candidate.exists():
            return candidate
    raise AudioInputError(f"{call}: no {stem}.txt, .rttm or .json in {labels}")


def stereo_truth(path: str, channels: int, duration: float, how: TruthSource) -> CallTruth:
    speaker_channel = how.speaker_channel if how.speaker_channel is not None else 0
    if channels < 2:
        raise AudioInputError(
            f"{path}: one channel; a call needs the speaker and the other party on separate "
            "channels, or --labels for mono audio"
        )
    if not 0 <= speaker_channel < channels:
        raise AudioInputError(
            f"{path}: --speaker-channel {speaker_channel} is out of range (0..{channels - 1})"
        )
    audio, rate = read_channel(path, speaker_channel)
    speaker = speech_segments(audio, rate, how.activity)
    others = []
    for channel in range(channels):
        if channel != speaker_channel:
            other, other_rate = read_channel(path, channel)
            others += speech_segments(other, other_rate, how.activity)
    method = (f"channels: speaker on channel {speaker_channel}, others on the rest; "
              f"{how.activity.describe()}; {how.gaps.describe()}")
    return derive(path, speaker, sorted(others), len(audio) / rate, how.gaps, method)


def call_truth(path: str, how: TruthSource) -> CallTruth:
    """The truth of one call, or an AudioInputError / UsageError saying why not."""
    channels, duration = channel_count(path)
    if how.labels is None:
        return stereo_truth(path, channels, duration, how)
    label_path = labels_for(path, how.labels)
    try:
        return read_labels(label_path, path, duration, how.speaker, how.gaps)
    except LabelError as exc:
        raise UsageError(f"{label_path}: {exc}") from None
