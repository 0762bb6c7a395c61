"""Shared by several test modules (from test_server_abuse.py; tests never import each other)."""

from __future__ import annotations

import os


def masked_text_frame(text: str) -> bytes:
    """One client→server WebSocket text frame (RFC 6455: clients mask what they send)."""
    payload = text.encode()
    mask = os.urandom(4)
    n = len(payload)
    if n < 126:
        header = bytes([0x81, 0x80 | n])
    elif n < 1 << 16:
        header = bytes([0x81, 0x80 | 126]) + n.to_bytes(2, "big")
    else:
        header = bytes([0x81, 0x80 | 127]) + n.to_bytes(8, "big")
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return header + mask + body


