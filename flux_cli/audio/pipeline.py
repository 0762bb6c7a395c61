"""The whole client-side path: source blocks -> resample -> frames -> wire bytes."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from numpy.typing import NDArray

from flux_cli.audio.encoding import bytes_per_sample, encode
from flux_cli.audio.framing import Framer, frame_samples
from flux_cli.audio.inputs import AudioSource
from flux_cli.audio.resample import StreamResampler


def float_frames(
    source: AudioSource, *, sample_rate: int, chunk_ms: int
) -> Iterator[NDArray[np.float32]]:
    """Mono float32 frames at ``sample_rate``, each ``chunk_ms`` long except maybe the last."""
    resampler = StreamResampler(source.sample_rate, sample_rate)
    framer = Framer(frame_samples(sample_rate, chunk_ms))
    for block in source.blocks():
        yield from framer.push(resampler.process(block))
    yield from framer.push(resampler.flush())
    last = framer.flush()
    if last is not None:
        yield last


def wire_frames(
    source: AudioSource, *, sample_rate: int, chunk_ms: int, encoding: str
) -> Iterator[bytes]:
    """Binary WebSocket payloads, in order; never an empty one (Flux rejects those)."""
    bytes_per_sample(encoding)  # fail on a bad encoding before reading any audio
    for frame in float_frames(source, sample_rate=sample_rate, chunk_ms=chunk_ms):
        if len(frame):
            yield encode(frame, encoding)

