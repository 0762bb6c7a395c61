"""Audio in, wire frames out: sources, resampling, framing, encodings and pacing."""

from flux_cli.audio.encoding import ENCODINGS, bytes_per_sample, decode, encode
from flux_cli.audio.framing import Framer, frame_samples
from flux_cli.audio.inputs import AudioSource, InputFormat, open_source
from flux_cli.audio.pacing import Pacer
from flux_cli.audio.pipeline import float_frames, frame_duration, wire_frames
from flux_cli.audio.resample import StreamResampler
from flux_cli.audio.sampleformat import SAMPLE_FORMATS
from flux_cli.audio.wavstream import WavFormat, WavStreamParser, iter_wav_stream

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
    "frame_duration",
    "frame_samples",
    "iter_wav_stream",
    "open_source",
    "wire_frames",
]
