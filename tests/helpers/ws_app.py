"""Shared by several test modules (from test_server_app.py; tests never import each other)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import numpy as np
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from flux_cli.engine.interfaces import Audio
from helpers.server_fakes import script

FRAME_BYTES = 2560  # 80 ms of linear16 at 16 kHz



QUERY = "model=flux-general-en&encoding=linear16&sample_rate=16000"


DIALOGUE = script(("silence", 0.5), ("speech", 1.5), ("silence", 2.0), ("speech", 1.0),
                  ("silence", 2.0))


def pcm16(audio: Audio) -> bytes:
    return (np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes()


async def receive_all(ws: ClientConnection) -> list[dict[str, Any]]:
    """Every message until the server closes."""
    out: list[dict[str, Any]] = []
    try:
        async for frame in ws:
            out.append(json.loads(frame))
    except ConnectionClosed:
        pass
    return out


async def stream(ws: ClientConnection, audio: Audio, *, pace: float = 0.0) -> None:
    """Send audio in 80 ms frames (``pace`` > 0: that many times real time), then CloseStream."""
    data = pcm16(audio)
    for i in range(0, len(data), FRAME_BYTES):
        await ws.send(data[i : i + FRAME_BYTES])
        if pace:
            await asyncio.sleep(0.08 / pace)
    await ws.send(json.dumps({"type": "CloseStream"}))


def turn_events(messages: list[dict[str, Any]]) -> list[str]:
    return [m["event"] for m in messages if m["type"] == "TurnInfo" and m["event"] != "Update"]


