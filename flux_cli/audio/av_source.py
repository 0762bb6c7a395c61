"""Containers libsndfile does not read (MP4/M4A/AAC, WebM, MKV, ...), decoded by PyAV.

PyAV (FFmpeg) comes with the ``[local]`` extra; without it the error says how to convert.
Frames are decoded as they are read and handed on as interleaved float32, so a long file
costs no more memory than a WAV.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
from numpy.typing import NDArray

from flux_cli.audio.source import StreamSource
from flux_cli.errors import AudioInputError


def _convert_hint(path: str) -> str:
    return (f"{path}: not a format libsndfile reads; install PyAV (pip install av) to decode "
            f"it, or convert it: ffmpeg -i {path} -ac 1 -ar 16000 {path}.wav")


def open_with_av(path: str, *, channel: int | None = None) -> StreamSource:
    """The first audio stream of ``path`` as a source, or a one-line AudioInputError."""
    try:
        import av
    except ImportError:
        raise AudioInputError(_convert_hint(path)) from None
    try:
        container: Any = av.open(path)
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise AudioInputError(f"{path}: cannot read audio ({exc.__class__.__name__})") from None
    if not container.streams.audio:
        container.close()
        raise AudioInputError(f"{path}: has no audio stream")
    stream = container.streams.audio[0]
    channels = int(stream.codec_context.channels or 1)
    rate = int(stream.codec_context.sample_rate or stream.rate or 0)
    if rate <= 0:
        container.close()
        raise AudioInputError(f"{path}: the audio stream has no sample rate")
    duration = None
    if stream.duration is not None and stream.time_base is not None:
        duration = float(stream.duration * stream.time_base)
    elif container.duration is not None:
        duration = container.duration / 1_000_000
    try:
        return StreamSource(
            _frames(av, container, stream, path, channels),
            name=path,
            sample_rate=rate,
            channels=channels,
            kind=f"{container.format.name} {stream.codec_context.name}",
            is_live=False,
            duration_s=duration,
            channel=channel,
            closer=container.close,
        )
    except AudioInputError:
        container.close()
        raise


def _frames(
    av: Any, container: Any, stream: Any, path: str, channels: int
) -> Iterator[NDArray[np.float32]]:
    """(frames, channels) float32 blocks, interleaved by FFmpeg's resampler."""
    resampler = av.AudioResampler(format="flt", layout=stream.codec_context.layout,
                                  rate=stream.codec_context.sample_rate)
    decoded = 0.0
    try:
        for frame in container.decode(stream):
            for out in resampler.resample(frame):
                block = np.asarray(out.to_ndarray(), dtype=np.float32).reshape(-1, channels)
                decoded += len(block) / stream.codec_context.sample_rate
                yield block
        for out in resampler.resample(None):
            yield np.asarray(out.to_ndarray(), dtype=np.float32).reshape(-1, channels)
    except av.error.FFmpegError as exc:
        raise AudioInputError(
            f"{path} at {decoded:.1f} s: cannot decode audio ({exc.__class__.__name__})"
        ) from None
