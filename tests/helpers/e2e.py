"""Shared by several test modules (from test_server_e2e.py; tests never import each other)."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import soxr
from conftest import timeout
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from flux_cli.server.embedded import EmbeddedServer

RATE = 16000


def _mulaw(sample: int) -> int:
    sign = 0x80 if sample < 0 else 0
    magnitude = min(abs(sample), 32635) + 0x84
    exponent = max(magnitude.bit_length() - 8, 0)
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    return ~(sign | (exponent << 4) | mantissa) & 0xFF


def _alaw(sample: int) -> int:
    sign = 0x00 if sample < 0 else 0x80
    magnitude = min(abs(sample), 32767) >> 3
    if magnitude < 32:
        code = magnitude >> 1
    else:
        exponent = magnitude.bit_length() - 5
        code = (exponent << 4) | ((magnitude >> exponent) & 0x0F)
    return (sign | code) ^ 0x55


def words(text: str) -> set[str]:
    return set(re.findall(r"[a-z']+", text.lower()))




def encode(audio: np.ndarray, encoding: str, rate: int) -> bytes:
    """The client side of each wire encoding, written independently of the server's decoder."""
    if rate != RATE:
        audio = soxr.resample(audio, RATE, rate).astype(np.float32)
    audio = np.clip(audio, -1.0, 1.0)
    if encoding == "linear16":
        return (audio * 32767).astype("<i2").tobytes()
    if encoding == "linear32":
        return (audio * 2147483647).astype("<i4").tobytes()
    pcm = (audio * 32767).astype(np.int32)
    if encoding == "mulaw":
        return bytes(_mulaw(int(s)) for s in pcm)
    if encoding == "alaw":
        return bytes(_alaw(int(s)) for s in pcm)
    raise ValueError(encoding)


def run_stream(
    url: str, payload: bytes, *, frame: int = 2560, pace_bps: float = 0.0, **kwargs: Any
) -> list[dict[str, Any]]:
    """Send ``payload`` in frames (``pace_bps`` > 0: bytes per second), CloseStream, read all."""
    return run_items(url, [payload], frame=frame, pace_bps=pace_bps, **kwargs)


def run_items(
    url: str, items: Sequence[bytes | str], *, frame: int = 2560, pace_bps: float = 0.0,
    **kwargs: Any,
) -> list[dict[str, Any]]:
    """Send audio (bytes, in frames) and control messages (text) in order, then CloseStream;
    read every message until the server closes (normally)."""
    import threading
    import time

    messages: list[dict[str, Any]] = []
    with connect(url, open_timeout=timeout(20), **kwargs) as ws:

        def send() -> None:
            for item in items:
                if isinstance(item, str):
                    ws.send(item)
                    continue
                for i in range(0, len(item), frame):
                    ws.send(item[i : i + frame])
                    if pace_bps:
                        time.sleep(frame / pace_bps)
            ws.send(json.dumps({"type": "CloseStream"}))

        sender = threading.Thread(target=send, daemon=True)
        sender.start()
        try:
            while True:
                messages.append(json.loads(ws.recv(timeout=timeout(60))))
        except ConnectionClosed:
            pass
        sender.join(timeout(10))
        assert ws.close_code == 1000
    return messages


def query_url(server: EmbeddedServer, query: str) -> str:
    return f"{server.url}?model=flux-general-en&{query}"


def ends(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [m for m in messages if m.get("event") == "EndOfTurn"]


def overlap(expected: str, got: str) -> float:
    want = words(expected)
    return len(want & words(got)) / len(want)


