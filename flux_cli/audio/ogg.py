"""Ogg page splitting, so an Ogg/Opus file can be sent unchanged (``--encoding ogg-opus``).

Sending whole pages keeps every WebSocket frame decodable on its own boundary and lets the
client pace by each page's granule position.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator

from flux_cli.errors import AudioInputError

_HEADER = 27
_OPUS_RATE = 48000  # Opus granule positions always count 48 kHz samples


def _read_exact(read: Callable[[int], bytes], n: int) -> bytes:
    parts: list[bytes] = []
    got = 0
    while got < n:
        piece = read(n - got)
        if not piece:
            break
        parts.append(piece)
        got += len(piece)
    return b"".join(parts)


def iter_pages(read: Callable[[int], bytes]) -> Iterator[bytes]:
    """Whole Ogg pages, in order, each as its raw bytes; a truncated last page is yielded as is."""
    while True:
        header = _read_exact(read, _HEADER)
        if not header:
            return
        if header[:4] != b"OggS":
            raise AudioInputError("Ogg stream is corrupt (lost page sync)")
        if len(header) < _HEADER:
            yield header
            return
        lacing = _read_exact(read, header[26])
        body = _read_exact(read, sum(lacing))
        yield header + lacing + body


def granule_position(page: bytes) -> int | None:
    """The page's granule position, or None when no packet ends on it."""
    granule: int = struct.unpack_from("<q", page, 6)[0]
    return None if granule == -1 else granule


def opus_page_end_seconds(page: bytes, pre_skip: int = 0) -> float | None:
    """Stream time in seconds at the end of an Ogg/Opus page (None if no packet ends on it)."""
    granule = granule_position(page)
    if granule is None:
        return None
    return max(granule - pre_skip, 0) / _OPUS_RATE
