"""Ogg pages: the one parser both sides use.

The client splits an Ogg/Opus file into whole pages to send it unchanged (``--encoding
ogg-opus``), paced by each page's granule position; the server (``server/ogg.py``) parses the
pages a client sends, cut anywhere, into packets. Pure: bytes in, pages out.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

READ_SIZE = 1 << 16
CAPTURE = b"OggS"
HEADER_SIZE = 27  # fixed part of a page header, before the lacing table
FLAG_CONTINUED = 0x01
FLAG_FIRST = 0x02
OPUS_RATE = 48000


class OggError(ValueError):
    """The bytes are not a well-formed Ogg (Opus) stream."""


# Ogg's CRC-32 is the MSB-first form of zlib's polynomial (init 0, no final xor). Feeding
# zlib bit-reversed bytes and reversing its register gives it at C speed.
_REVERSED_BYTES = bytes(int(f"{b:08b}"[::-1], 2) for b in range(256))


def ogg_crc(data: bytes) -> int:
    """Ogg's CRC-32 (polynomial 0x04C11DB7, not reflected, initial value 0)."""
    register = zlib.crc32(data.translate(_REVERSED_BYTES), 0xFFFFFFFF) ^ 0xFFFFFFFF
    return int(f"{register:032b}"[::-1], 2)


@dataclass(frozen=True)
class Page:
    flags: int
    granule: int
    serial: int
    sequence: int
    segments: tuple[int, ...]
    body: bytes


def parse_page(data: bytes | bytearray, offset: int = 0) -> tuple[Page, int] | None:
    """The page starting at ``offset`` and its total size, or None if more bytes are needed."""
    if len(data) - offset < HEADER_SIZE:
        return None
    if data[offset : offset + 4] != CAPTURE:
        raise OggError("not an Ogg stream (no 'OggS' page header)")
    version, flags, granule, serial, sequence, crc, n_segments = struct.unpack_from(
        "<BBqIIIB", data, offset + 4
    )
    if version != 0:
        raise OggError(f"unsupported Ogg version {version}")
    header_end = offset + HEADER_SIZE + n_segments
    if len(data) < header_end:
        return None
    segments = tuple(data[offset + HEADER_SIZE : header_end])
    end = header_end + sum(segments)
    if len(data) < end:
        return None
    raw = bytearray(data[offset:end])
    raw[22:26] = b"\0\0\0\0"
    if ogg_crc(bytes(raw)) != crc:
        raise OggError(f"Ogg page {sequence} is corrupt (CRC mismatch)")
    page = Page(flags, granule, serial, sequence, segments, bytes(data[header_end:end]))
    return page, end - offset


def iter_pages(read: Callable[[int], bytes]) -> Iterator[bytes]:
    """Whole Ogg pages, in order, each as its raw bytes; a truncated last page is yielded as is.

    Raises OggError on bytes that are not Ogg pages.
    """
    buffer = bytearray()
    while True:
        found = parse_page(buffer)
        if found is not None:
            size = found[1]
            yield bytes(buffer[:size])
            del buffer[:size]
            continue
        chunk = read(READ_SIZE)
        if not chunk:
            if buffer:
                yield bytes(buffer)
            return
        buffer += chunk


def opus_page_end_seconds(page: bytes, pre_skip: int = 0) -> float | None:
    """Stream time in seconds at the end of an Ogg/Opus page (None if no packet ends on it)."""
    granule: int = struct.unpack_from("<q", page, 6)[0]
    if granule == -1:
        return None
    return max(granule - pre_skip, 0) / OPUS_RATE
