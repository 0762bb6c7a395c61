"""WAV read from a pipe: a parser that takes bytes as they arrive and hands back audio at once.

soundfile needs a seekable file, and a live ``arecord | flux transcribe -`` has no end and
no true length in its header. This parser never seeks, never waits for more than it needs,
and treats a data length of 0, 0xFFFFFFFF, or more than what arrives as "until EOF".
It does no I/O itself (bytes in, audio out), so it is tested with literal bytes, and
``iter_wav_stream`` drives it from a reader.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from flux_cli.audio.sampleformat import PcmDeinterleaver


class WavError(ValueError):
    """The bytes are not a WAV stream we can decode; the caller says what that means for it
    (the client: an input error, exit 3; the server: a decode error sent to its client)."""

WAVE_FORMAT_PCM = 0x0001
WAVE_FORMAT_IEEE_FLOAT = 0x0003
WAVE_FORMAT_ALAW = 0x0006
WAVE_FORMAT_MULAW = 0x0007
WAVE_FORMAT_EXTENSIBLE = 0xFFFE

# Every KSDATAFORMAT_SUBTYPE GUID ends with these bytes; the first two hold the format tag.
_GUID_TAIL = bytes.fromhex("000000001000800000aa00389b71")
_UNKNOWN_LENGTHS = (0, 0xFFFFFFFF)
# Recorders writing to a pipe put a placeholder near 2 GiB in the header (arecord: 0x7FFFFFFF
# less the header); a stream that ends before such a length is not a cut file.
_PLACEHOLDER_LENGTH = 0x7F000000
_MAX_FMT_BYTES = 1024  # a real fmt chunk is 16-40 bytes; refuse to buffer a bogus huge one

_SUBTYPES = {
    "u8": "PCM_U8",
    "s16le": "PCM_16",
    "s24le": "PCM_24",
    "s32le": "PCM_32",
    "f32le": "FLOAT",
    "f64le": "DOUBLE",
    "mulaw": "ULAW",
    "alaw": "ALAW",
}


@dataclass(frozen=True)
class WavFormat:
    """What the fmt chunk says, reduced to one of our sample formats."""

    sample_format: str
    sample_rate: int
    channels: int

    @property
    def subtype(self) -> str:
        """soundfile's name for the subtype, so descriptions read the same for files and pipes."""
        return _SUBTYPES[self.sample_format]


def _sample_format(tag: int, bits: int) -> str | None:
    if tag == WAVE_FORMAT_PCM:
        return {8: "u8", 16: "s16le", 24: "s24le", 32: "s32le"}.get(bits)
    if tag == WAVE_FORMAT_IEEE_FLOAT:
        return {32: "f32le", 64: "f64le"}.get(bits)
    if tag == WAVE_FORMAT_MULAW and bits == 8:
        return "mulaw"
    if tag == WAVE_FORMAT_ALAW and bits == 8:
        return "alaw"
    return None


def parse_fmt(body: bytes) -> WavFormat:
    """Decode a fmt chunk body, resolving WAVE_FORMAT_EXTENSIBLE to its real format."""
    if len(body) < 16:
        raise WavError(f"WAV fmt chunk is too short ({len(body)} bytes)")
    tag, channels, rate, _byte_rate, block_align, bits = struct.unpack_from("<HHIIHH", body)
    if tag == WAVE_FORMAT_EXTENSIBLE:
        if len(body) < 40 or body[26:40] != _GUID_TAIL:
            raise WavError("WAV WAVE_FORMAT_EXTENSIBLE header has no usable sub-format")
        tag = struct.unpack_from("<H", body, 24)[0]
    sample_format = _sample_format(tag, bits)
    if sample_format is None:
        raise WavError(
            f"unsupported WAV encoding (format tag 0x{tag:04x}, {bits} bits); "
            "convert it to 16-bit PCM first, e.g. with sox or ffmpeg"
        )
    if channels < 1 or rate < 1:
        raise WavError(f"WAV header has {channels} channels at {rate} Hz")
    width = {"u8": 1, "mulaw": 1, "alaw": 1, "s16le": 2, "s24le": 3}.get(sample_format, bits // 8)
    if block_align != width * channels:
        raise WavError(
            f"unsupported WAV layout: block align {block_align} for {channels} x {bits}-bit"
        )
    return WavFormat(sample_format, rate, channels)


class WavStreamParser:
    """Bytes in, (frames, channels) float32 audio out; holds at most one partial header piece."""

    def __init__(self) -> None:
        self.format: WavFormat | None = None
        self._buf = b""
        self._state = "riff"  # riff -> chunk -> (fmt | skip | data)* -> done
        self._need = 12
        self._skip = 0
        self._data_left: int | None = None  # None: until EOF
        self._pcm: PcmDeinterleaver | None = None

    @property
    def in_data(self) -> bool:
        """True once the header is read and audio bytes are being decoded."""
        return self._state in ("data", "done")

    @property
    def done(self) -> bool:
        """True when the data chunk's declared length has been read in full."""
        return self._state == "done"

    @property
    def missing_bytes(self) -> int:
        """Audio bytes the header declared that have not arrived (0: none, or length unknown)."""
        return self._data_left or 0 if self._state == "data" else 0

    def feed(self, data: bytes) -> NDArray[np.float32] | None:
        """Consume ``data``; return the whole audio frames it completed, if any."""
        out: list[NDArray[np.float32]] = []
        view = memoryview(data)
        while view and self._state != "done":
            if self._state == "data":
                view = self._feed_data(view, out)
            elif self._state == "skip":
                step = min(self._skip, len(view))
                self._skip -= step
                view = view[step:]
                if self._skip == 0:
                    self._expect("chunk", 8)
            else:
                take = min(self._need - len(self._buf), len(view))
                self._buf += bytes(view[:take])
                view = view[take:]
                if len(self._buf) == self._need:
                    piece, self._buf = self._buf, b""
                    self._header_piece(piece)
        if not out:
            return None
        return out[0] if len(out) == 1 else np.concatenate(out)

    def finish(self) -> None:
        """Call at EOF: complains if the stream ended before any audio could start."""
        if not self.in_data:
            raise WavError("the WAV stream ended before its header was complete")

    def _expect(self, state: str, need: int) -> None:
        self._state, self._need = state, need

    def _feed_data(self, view: memoryview, out: list[NDArray[np.float32]]) -> memoryview:
        assert self._pcm is not None
        take = len(view) if self._data_left is None else min(self._data_left, len(view))
        frames = self._pcm.feed(bytes(view[:take]))
        if len(frames):
            out.append(frames)
        if self._data_left is not None:
            self._data_left -= take
            if self._data_left == 0:
                self._state = "done"
        return view[take:]

    def _header_piece(self, piece: bytes) -> None:
        if self._state == "riff":
            if piece[:4] not in (b"RIFF", b"RF64") or piece[8:12] != b"WAVE":
                raise WavError("not a WAV stream (no RIFF/WAVE header)")
            self._expect("chunk", 8)
        elif self._state == "chunk":
            self._chunk_header(piece[:4], struct.unpack_from("<I", piece, 4)[0])
        elif self._state == "fmt":
            self.format = parse_fmt(piece)
            self._expect("chunk", 8)

    def _chunk_header(self, chunk_id: bytes, size: int) -> None:
        padded = size + (size & 1)  # RIFF chunks are word-aligned
        if chunk_id == b"fmt ":
            if size > _MAX_FMT_BYTES:
                raise WavError(f"WAV fmt chunk is implausibly large ({size} bytes)")
            self._expect("fmt", padded)
        elif chunk_id == b"data":
            if self.format is None:
                raise WavError("WAV data chunk comes before its fmt chunk")
            self._pcm = PcmDeinterleaver(self.format.sample_format, self.format.channels)
            known = size not in _UNKNOWN_LENGTHS and size < _PLACEHOLDER_LENGTH
            self._data_left = size if known else None
            self._state = "data"
        elif padded == 0:
            self._expect("chunk", 8)
        else:
            self._skip = padded
            self._state = "skip"


def read_header(parser: WavStreamParser, read: Callable[[], bytes]) -> list[NDArray[np.float32]]:
    """Read until the format is known; return any audio that arrived with the header."""
    early: list[NDArray[np.float32]] = []
    while not parser.in_data:
        chunk = read()
        if not chunk:
            parser.finish()
        frames = parser.feed(chunk)
        if frames is not None:
            early.append(frames)
    return early


def read_audio(parser: WavStreamParser, read: Callable[[], bytes]) -> Iterator[NDArray[np.float32]]:
    """After the header: yield each read's audio at once, until the data chunk or EOF ends."""
    while not parser.done:
        chunk = read()
        if not chunk:
            return
        frames = parser.feed(chunk)
        if frames is not None:
            yield frames


def iter_wav_stream(read: Callable[[], bytes]) -> Iterator[NDArray[np.float32]]:
    """Audio blocks from a WAV byte stream, each yielded as soon as its read returns.

    ``read`` returns whatever bytes are available (b"" at EOF), like ``os.read`` on a pipe.
    """
    parser = WavStreamParser()
    yield from read_header(parser, read)
    yield from read_audio(parser, read)
