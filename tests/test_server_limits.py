"""Per-connection limits over real sockets: message size, half-open sockets, key comparison.

An in-process server with the scripted engine and short ping timers, so a half-open socket
is found in about a second instead of forty.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import socket
import time
from typing import Any

import pytest
from conftest import timeout
from helpers.endpoints import get, with_server
from helpers.server_fakes import quiet
from helpers.ws_app import QUERY, pcm16, receive_all
from helpers.ws_frames import masked_text_frame
from websockets.asyncio.client import connect

from flux_cli.server import handshake as handshake_module
from flux_cli.server.stream_core import MAX_MESSAGE_BYTES


def test_a_message_above_the_limit_is_refused_with_error_and_1009() -> None:
    async def body(port: int) -> None:
        url = f"ws://127.0.0.1:{port}/v2/listen?{QUERY}"
        async with connect(url, max_size=None) as ws:
            await ws.send(pcm16(quiet(0.2)))
            await ws.send(b"\0" * (MAX_MESSAGE_BYTES + 2))
            messages = await receive_all(ws)
        assert messages[-1]["type"] == "Error" and messages[-1]["code"] == "MESSAGE_TOO_BIG"
        assert ws.close_code == 1009
        async with connect(url, max_size=None) as ws:
            await ws.send(json.dumps({"type": "KeepAlive", "pad": "x" * MAX_MESSAGE_BYTES}))
            messages = await receive_all(ws)
        assert messages[-1]["code"] == "MESSAGE_TOO_BIG" and ws.close_code == 1009
        async with connect(url, max_size=None) as ws:  # far above: refused before it is read
            await ws.send(b"\0" * (8 * MAX_MESSAGE_BYTES))
            await receive_all(ws)
        assert ws.close_code == 1009
        assert (await get(port, "/healthz"))[0] == 200

    with_server(body)


def test_a_half_open_socket_is_closed_by_pings() -> None:
    """The peer keeps sending KeepAlive (so the idle timer never fires) but never reads, so
    it never answers a ping: the server gives up on it after interval + timeout."""

    async def body(port: int) -> None:
        def half_open() -> float:
            with socket.create_connection(("127.0.0.1", port)) as sock:
                sock.sendall((f"GET /v2/listen?{QUERY} HTTP/1.1\r\nHost: x\r\n"
                              "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                              "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                              "Sec-WebSocket-Version: 13\r\n\r\n").encode())
                started = time.monotonic()
                deadline = started + timeout(20)
                keepalive = masked_text_frame(json.dumps({"type": "KeepAlive"}))
                while time.monotonic() < deadline:
                    try:
                        sock.sendall(keepalive)
                    except (BrokenPipeError, ConnectionResetError):
                        return time.monotonic() - started
                    time.sleep(0.1)
                raise AssertionError("the server never closed the half-open socket")

        took = await asyncio.to_thread(half_open)
        assert took >= 0.9  # not before the ping timed out (interval 0.5 s + timeout 0.5 s)
        status: dict[str, Any] = {}
        for _ in range(50):
            status = json.loads((await get(port, "/v1/status"))[1])
            if status["active_streams"] == 0:
                break
            await asyncio.sleep(0.05)
        assert status["active_streams"] == 0

    with_server(body, idle_timeout_s=60, ping_interval_s=0.5, ping_timeout_s=0.5)


def test_the_key_is_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """Both ways of presenting a key go through ``hmac.compare_digest``, never ``==``."""
    seen: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def recording(a: bytes, b: bytes) -> bool:
        seen.append((a, b))
        return real(a, b)

    monkeypatch.setattr(handshake_module.hmac, "compare_digest", recording)

    async def body(port: int) -> None:
        url = f"ws://127.0.0.1:{port}/v2/listen?{QUERY}"
        async with connect(url, additional_headers={"Authorization": "Token k3y-k3y"}) as ws:
            await ws.recv()
        async with connect(url, subprotocols=["token", "k3y-k3y"]) as ws:  # type: ignore[list-item]
            await ws.recv()

    with_server(body, api_key="k3y-k3y")
    assert (b"k3y-k3y", b"k3y-k3y") in seen and len(seen) >= 2
