"""What a client sends, turned into the engine's 16 kHz mono float32, frame by frame.

Clients cut their byte stream anywhere (an odd byte of linear16 at the end of one frame,
an Ogg page split over three), so every decoder keeps what it could not use yet and hands
back only whole samples. ``encoding=None`` means a container whose header says what it is:
WAV (``RIFF``) or Ogg Opus (``OggS``), told apart by the first four bytes.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from flux_cli.audio import encoding as wire
from flux_cli.audio.phone_line import MaybePhoneLine, PhoneLine, to_engine_rate
from flux_cli.audio.resample import StreamResampler
from flux_cli.audio.wavstream import WavError, WavStreamParser
from flux_cli.engine.interfaces import SAMPLE_RATE, Audio
from flux_cli.protocol import RAW_ENCODINGS
from flux_cli.server.opus import OPUS_RATE, OggError, OggOpusDecoder, OpusPacketDecoder

SNIFF_BYTES = 4
MAGICS = (b"OggS", b"RIFF", b"RF64")

_EMPTY = np.zeros(0, dtype=np.float32)


class AudioDecodeError(ValueError):
    """The client's audio cannot be decoded; the message is fit for an ``Error`` frame."""


class AudioDecoder(Protocol):
    def feed(self, data: bytes) -> Audio:
        """Audio completed by ``data`` (possibly none), 16 kHz mono float32."""
        ...

    def flush(self) -> Audio:
        """At end of stream: what the resampler still holds; a partial sample is dropped."""
        ...

    def release(self) -> Audio:
        """Before a control message: audio held back for the band check's verdict, if any
        (``phone_line.MaybePhoneLine``), so the message meets the audio sent before it."""
        ...

    @property
    def phone_line(self) -> bool:
        """The audio handed out so far is handled as a phone line's (8 kHz or less, or found
        to be one): the session's VAD is read for phone-band speech (``pause_gate.py``)."""
        ...


class _Resampled:
    """Shared tail of every decoder: native-rate mono blocks in, 16 kHz out.

    Telephone-band streams (8 kHz or less: a phone line, G.711 as a rule) lose
    their DC offset first: the VAD misses quiet words over it (``flux_cli/audio/dc_block.py``).
    A faster stream found to have nothing above the phone band (a phone line upsampled by
    someone else) is taken back down and handled as one (``flux_cli/audio/phone_line.py``);
    so every stream of 11.025 kHz or more has its first second or so held back until the check's
    verdict, and ``release`` lets a control message end the hold.
    """

    def __init__(self, rate: int | None = None) -> None:
        self._resampler: PhoneLine | MaybePhoneLine | StreamResampler | None = None
        if rate:
            self._set_rate(rate)

    def _set_rate(self, rate: int) -> None:
        self._resampler = to_engine_rate(rate, SAMPLE_RATE)

    def _out(self, mono: Audio) -> Audio:
        if self._resampler is None or mono.size == 0:
            return _EMPTY
        return np.asarray(self._resampler.process(mono), dtype=np.float32)

    def _tail(self) -> Audio:
        if self._resampler is None:
            return _EMPTY
        return np.asarray(self._resampler.flush(), dtype=np.float32)

    def release(self) -> Audio:
        if isinstance(self._resampler, MaybePhoneLine):
            return self._resampler.release()
        return _EMPTY

    @property
    def phone_line(self) -> bool:
        if isinstance(self._resampler, MaybePhoneLine):
            return self._resampler.phone
        return isinstance(self._resampler, PhoneLine)


class RawDecoder(_Resampled):
    """linear16 / linear32 / mulaw / alaw at any rate; a split sample waits for its bytes."""

    def __init__(self, encoding: str, sample_rate: int) -> None:
        super().__init__(sample_rate)
        self.encoding = encoding
        self._width = wire.bytes_per_sample(encoding)
        self._carry = b""

    def feed(self, data: bytes) -> Audio:
        if self._carry:
            data = self._carry + data
        usable = len(data) - len(data) % self._width
        self._carry = data[usable:]
        return self._out(wire.decode(data[:usable], self.encoding))

    def flush(self) -> Audio:
        self._carry = b""
        return self._tail()


class WavDecoder(_Resampled):
    """A WAV stream (header first, any PCM/float/G.711 format and rate, any channel count)."""

    def __init__(self) -> None:
        super().__init__()
        self._parser = WavStreamParser()

    def feed(self, data: bytes) -> Audio:
        try:
            frames = self._parser.feed(data)
        except WavError as exc:
            raise AudioDecodeError(str(exc)) from None
        if self._resampler is None and self._parser.format is not None:
            self._set_rate(self._parser.format.sample_rate)
        if frames is None or len(frames) == 0:
            return _EMPTY
        mono = frames.mean(axis=1, dtype=np.float32) if frames.ndim == 2 else frames
        return self._out(np.asarray(mono, dtype=np.float32))

    def flush(self) -> Audio:
        try:
            self._parser.finish()
        except WavError as exc:
            raise AudioDecodeError(str(exc)) from None
        return self._tail()


class OggOpusWireDecoder(_Resampled):
    """Ogg Opus pages (split anywhere) decoded at 48 kHz, then resampled."""

    def __init__(self) -> None:
        super().__init__(OPUS_RATE)
        self._ogg = OggOpusDecoder()

    def feed(self, data: bytes) -> Audio:
        try:
            return self._out(self._ogg.feed(data))
        except OggError as exc:
            raise AudioDecodeError(str(exc)) from None

    def flush(self) -> Audio:
        return self._tail()


class RawOpusDecoder(_Resampled):
    """``encoding=opus`` without Ogg: every WebSocket frame is one Opus packet."""

    def __init__(self) -> None:
        super().__init__(OPUS_RATE)
        self._opus = OpusPacketDecoder()

    def feed(self, data: bytes) -> Audio:
        if not data:
            return _EMPTY
        try:
            return self._out(self._opus.decode(data))
        except OggError as exc:
            raise AudioDecodeError(str(exc)) from None

    def flush(self) -> Audio:
        return self._tail()


class SniffingDecoder:
    """Waits for the first bytes, then hands the stream to the decoder they call for."""

    def __init__(self, *, opus_only: bool) -> None:
        self._opus_only = opus_only
        self._head = b""
        self._inner: AudioDecoder | None = None

    def feed(self, data: bytes) -> Audio:
        if self._inner is None:
            self._head += data
            magic = self._head[:SNIFF_BYTES]
            if len(magic) < SNIFF_BYTES and any(m.startswith(magic) for m in MAGICS):
                return _EMPTY
            self._inner = self._choose(magic)
            data, self._head = self._head, b""
        return self._inner.feed(data)

    def release(self) -> Audio:
        return _EMPTY if self._inner is None else self._inner.release()

    @property
    def phone_line(self) -> bool:
        return self._inner is not None and self._inner.phone_line

    def flush(self) -> Audio:
        if self._inner is None:
            if self._head:
                raise AudioDecodeError(f"the audio stream ended after {len(self._head)} bytes")
            return _EMPTY
        return self._inner.flush()

    def _choose(self, magic: bytes) -> AudioDecoder:
        if magic == b"OggS":
            return OggOpusWireDecoder()
        if self._opus_only:
            return RawOpusDecoder()
        if magic in (b"RIFF", b"RF64"):
            return WavDecoder()
        raise AudioDecodeError(
            "unrecognised audio container (expected WAV or Ogg Opus); "
            "for raw audio set encoding and sample_rate"
        )


def make_decoder(encoding: str | None, sample_rate: int | None) -> AudioDecoder:
    """The decoder for a stream's ``encoding``/``sample_rate`` query parameters.

    ``None`` → WAV or Ogg Opus container; ``ogg-opus`` → Ogg Opus; ``opus`` → Ogg Opus, or
    bare Opus packets (one per frame) if the stream does not start with an Ogg page.
    """
    if encoding is None:
        return SniffingDecoder(opus_only=False)
    if encoding == "ogg-opus":
        return OggOpusWireDecoder()
    if encoding == "opus":
        return SniffingDecoder(opus_only=True)
    if encoding not in RAW_ENCODINGS:
        raise AudioDecodeError(f"unsupported encoding {encoding!r}")
    if sample_rate is None or sample_rate <= 0:
        raise AudioDecodeError(f"encoding={encoding} needs a positive sample_rate")
    return RawDecoder(encoding, sample_rate)
