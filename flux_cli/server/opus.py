"""Ogg Opus arriving in WebSocket frames of any size: pages → packets → 48 kHz audio.

``OggPacketReader`` is pure (bytes in, packets out) and keeps a partial page between
``feed`` calls, because a client may cut its stream anywhere. ``OpusPacketDecoder`` wraps
PyAV's libopus decoder (``av`` comes with pipecat-ai); it is imported lazily so only a
stream that really sends Opus needs it.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

import numpy as np

from flux_cli.audio.ogg import (
    FLAG_CONTINUED,
    FLAG_FIRST,
    OPUS_RATE,
    OggError,
    Page,
    parse_page,
)
from flux_cli.engine.interfaces import Audio
from flux_cli.errors import INSTALL_HINT

MAX_PACKET = 1 << 20  # an Opus packet is < 8 KB; refuse to buffer a runaway one


class OggPacketReader:
    """Packets of the first logical stream, from Ogg bytes cut at arbitrary places."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._serial: int | None = None
        self._partial = bytearray()
        self._pages = 0

    @property
    def pages(self) -> int:
        return self._pages

    def feed(self, data: bytes) -> list[bytes]:
        """Consume ``data``; return every packet it completed, in order."""
        self._buf += data
        packets: list[bytes] = []
        offset = 0
        while True:
            found = parse_page(self._buf, offset)
            if found is None:
                break
            page, size = found
            offset += size
            packets.extend(self._page_packets(page))
        del self._buf[:offset]
        return packets

    def close(self) -> None:
        """At end of stream: a cut-off page is an error worth reporting; a cut packet is not."""
        if self._buf:
            raise OggError(f"the Ogg stream ends inside a page ({len(self._buf)} bytes left)")

    def _page_packets(self, page: Page) -> list[bytes]:
        if self._serial is None:
            if not page.flags & FLAG_FIRST:
                raise OggError("the Ogg stream does not start at its first page")
            self._serial = page.serial
        if page.serial != self._serial:
            return []  # another multiplexed stream (e.g. video): not ours
        self._pages += 1
        if not page.flags & FLAG_CONTINUED:
            self._partial.clear()  # a packet left unfinished by a lost page is dropped
        packets: list[bytes] = []
        position = 0
        for lace in page.segments:
            self._partial += page.body[position : position + lace]
            position += lace
            if len(self._partial) > MAX_PACKET:
                raise OggError("Ogg packet is implausibly large")
            if lace < 255:
                packets.append(bytes(self._partial))
                self._partial.clear()
        return packets


@dataclass(frozen=True)
class OpusHead:
    channels: int
    pre_skip: int  # 48 kHz samples of encoder delay to drop from the start
    input_rate: int

    @classmethod
    def parse(cls, packet: bytes) -> OpusHead:
        if len(packet) < 19 or not packet.startswith(b"OpusHead"):
            raise OggError("the Ogg stream is not Opus (no OpusHead)")
        version, channels, pre_skip, input_rate = struct.unpack_from("<BBHI", packet, 8)
        if version >> 4 != 0 or channels == 0:
            raise OggError(f"unsupported OpusHead (version {version}, {channels} channels)")
        return cls(channels, pre_skip, input_rate)


class OpusPacketDecoder:
    """Opus packets → mono float32 at 48 kHz (libopus downmixes stereo packets itself)."""

    def __init__(self, pre_skip: int = 0) -> None:
        try:
            import av
        except ImportError:
            raise OggError(f"Opus audio needs PyAV: {INSTALL_HINT}") from None

        self._av: Any = av
        self._codec: Any = av.CodecContext.create("opus", "r")
        self._codec.sample_rate = OPUS_RATE
        self._codec.layout = "mono"
        self._skip = pre_skip

    def decode(self, packet: bytes) -> Audio:
        try:
            frames = self._codec.decode(self._av.Packet(packet))
        except self._av.error.FFmpegError as exc:
            raise OggError(f"undecodable Opus packet ({exc.__class__.__name__})") from None
        return self._trim([np.asarray(f.to_ndarray(), dtype=np.float32)[0] for f in frames])

    def _trim(self, blocks: list[Audio]) -> Audio:
        audio = np.concatenate(blocks) if blocks else np.zeros(0, dtype=np.float32)
        if self._skip:
            dropped = min(self._skip, audio.size)
            self._skip -= dropped
            audio = audio[dropped:]
        return audio


class OggOpusDecoder:
    """Ogg Opus bytes → mono 48 kHz float32, incrementally."""

    def __init__(self) -> None:
        self._reader = OggPacketReader()
        self._decoder: OpusPacketDecoder | None = None
        self._headers_seen = 0

    def feed(self, data: bytes) -> Audio:
        blocks: list[Audio] = []
        for packet in self._reader.feed(data):
            if self._headers_seen == 0:
                head = OpusHead.parse(packet)
                self._decoder = OpusPacketDecoder(head.pre_skip)
                self._headers_seen = 1
            elif self._headers_seen == 1:
                if not packet.startswith(b"OpusTags"):
                    raise OggError("the Ogg Opus stream has no OpusTags packet")
                self._headers_seen = 2
            elif packet:
                assert self._decoder is not None
                blocks.append(self._decoder.decode(packet))
        return np.concatenate(blocks) if blocks else np.zeros(0, dtype=np.float32)

    def close(self) -> None:
        self._reader.close()
