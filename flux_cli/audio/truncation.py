"""Is a file shorter than its own header says? Checked at open, reported at the end.

libsndfile reads a truncated WAV or Ogg file to where it stops and says nothing, so a cut-off
recording would stream half its audio and exit 0. These checks look only at the header and
the file's tail (no decoding), so they cost nothing for a long file.
"""

from __future__ import annotations

import os
import struct

from flux_cli.audio.ogg import CAPTURE, HEADER_SIZE

_UNKNOWN_LENGTHS = (0, 0xFFFFFFFF)
_TAIL_BYTES = 1 << 16
_FLAG_EOS = 0x04


def wav_shortfall(head: bytes, file_size: int) -> int | None:
    """Bytes the WAV data chunk declares beyond the end of the file (None: complete/unknown)."""
    if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return None
    offset = 12
    while offset + 8 <= len(head):
        chunk_id = head[offset : offset + 4]
        size = struct.unpack_from("<I", head, offset + 4)[0]
        if chunk_id == b"data":
            if size in _UNKNOWN_LENGTHS:
                return None
            missing = offset + 8 + size - file_size
            return missing if missing > 0 else None
        offset += 8 + size + (size & 1)
    return None


def ogg_is_cut(tail: bytes, at_file_start: bool) -> bool:
    """True when the last Ogg page in ``tail`` is incomplete or is not the end-of-stream page."""
    start = tail.rfind(CAPTURE)
    if start < 0:
        return not at_file_start
    page = tail[start:]
    if len(page) < HEADER_SIZE:
        return True
    flags = page[5]
    segments = page[26]
    header_end = HEADER_SIZE + segments
    if len(page) < header_end or len(page) < header_end + sum(page[HEADER_SIZE:header_end]):
        return True
    return not flags & _FLAG_EOS


def truncation(path: str, kind: str) -> str | None:
    """Why the file at ``path`` (libsndfile major format ``kind``) is cut short, or None."""
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            if kind == "WAV":
                missing = wav_shortfall(f.read(_TAIL_BYTES), size)
                if missing:
                    return f"truncated: its header declares {missing} more bytes of audio"
            elif kind == "OGG":
                f.seek(max(0, size - _TAIL_BYTES))
                if ogg_is_cut(f.read(), size <= _TAIL_BYTES):
                    return "truncated: the Ogg stream ends without its last page"
    except OSError:
        return None
    return None
