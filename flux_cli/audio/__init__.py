"""Audio in, wire frames out: sources, resampling, framing, encodings and pacing.

The names below load on first use (PEP 562): importing a light submodule such as
``flux_cli.audio.input_format`` must not pull in numpy, soundfile and soxr, which the
package's own ``__init__`` would otherwise do for every ``flux --help``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flux_cli.audio.encoding import ENCODINGS, bytes_per_sample, decode, encode
    from flux_cli.audio.framing import Framer, frame_samples
    from flux_cli.audio.input_format import SAMPLE_FORMATS, InputFormat
    from flux_cli.audio.inputs import open_source
    from flux_cli.audio.pacing import Pacer
    from flux_cli.audio.pipeline import float_frames, wire_frames
    from flux_cli.audio.resample import StreamResampler
    from flux_cli.audio.source import AudioSource
    from flux_cli.audio.wavstream import WavFormat, WavStreamParser, iter_wav_stream

_HOME = {
    "ENCODINGS": "encoding",
    "bytes_per_sample": "encoding",
    "decode": "encoding",
    "encode": "encoding",
    "Framer": "framing",
    "frame_samples": "framing",
    "SAMPLE_FORMATS": "input_format",
    "InputFormat": "input_format",
    "open_source": "inputs",
    "Pacer": "pacing",
    "float_frames": "pipeline",
    "wire_frames": "pipeline",
    "StreamResampler": "resample",
    "AudioSource": "source",
    "WavFormat": "wavstream",
    "WavStreamParser": "wavstream",
    "iter_wav_stream": "wavstream",
}

__all__ = [
    "ENCODINGS",
    "SAMPLE_FORMATS",
    "AudioSource",
    "Framer",
    "InputFormat",
    "Pacer",
    "StreamResampler",
    "WavFormat",
    "WavStreamParser",
    "bytes_per_sample",
    "decode",
    "encode",
    "float_frames",
    "frame_samples",
    "iter_wav_stream",
    "open_source",
    "wire_frames",
]


def __getattr__(name: str) -> Any:
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module 'flux_cli.audio' has no attribute {name!r}")
    return getattr(importlib.import_module(f"flux_cli.audio.{module}"), name)
