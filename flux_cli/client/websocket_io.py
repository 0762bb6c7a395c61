"""The websocket-client edge: open a socket, wait for it, read a frame, name how it ended.

A refused upgrade becomes ``HandshakeRefused`` with the server's own reason (``dg-error``)
and request id; a 429 says what the live service's limit is.
"""

from __future__ import annotations

import contextlib
import select
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import websocket

from flux_cli.errors import ConnectionFailed

SOCKET_TIMEOUT_S = 30.0


def header(headers: dict[str, Any] | None, name: str) -> str | None:
    for key, value in (headers or {}).items():
        if key.lower() == name:
            return str(value)
    return None


class HandshakeRefused(ConnectionFailed):
    """The server answered the upgrade with an HTTP error (``status``)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


TOO_MANY_STREAMS = 429


def handshake_refused(exc: websocket.WebSocketBadStatusException) -> HandshakeRefused:
    if exc.status_code == TOO_MANY_STREAMS:
        request_id = header(exc.resp_headers, "dg-request-id")
        return HandshakeRefused(
            "handshake refused: HTTP 429: too many concurrent streams for this project (the "
            "live service allows 50 Flux streams at once); close another stream or try later"
            + (f"; dg-request-id: {request_id}" if request_id else ""),
            TOO_MANY_STREAMS,
        )
    parts = [f"HTTP {exc.status_code}"]
    reason = header(exc.resp_headers, "dg-error")
    if not reason and exc.resp_body:
        reason = exc.resp_body.decode("utf-8", "replace").strip()[:200] or None
    if reason:
        parts.append(f"dg-error: {reason}")
    request_id = header(exc.resp_headers, "dg-request-id")
    if request_id:
        parts.append(f"dg-request-id: {request_id}")
    return HandshakeRefused("handshake refused: " + "; ".join(parts), int(exc.status_code))


def close_code(frame: Any) -> int | None:
    data = getattr(frame, "data", b"") or b""
    if len(data) >= 2:
        return int.from_bytes(data[:2], "big")
    return None


@dataclass(frozen=True)
class Ended:
    """How one connection ended: a close frame (``code``, maybe None) or a drop (``reason``)."""

    close_frame: bool
    code: int | None
    reason: str

    @property
    def drop_reason(self) -> str:
        if self.close_frame:
            return f"the server closed the stream with code {self.code}"
        return self.reason


def open_socket(url: str, api_key: str | None, timeout_s: float) -> websocket.WebSocket:
    """Connect (the key travels in a header, never in the URL); one-line errors."""
    extra = [f"Authorization: Token {api_key}"] if api_key else []
    try:
        ws = websocket.create_connection(
            url,
            header=extra,
            enable_multithread=True,
            timeout=timeout_s,
        )
    except websocket.WebSocketBadStatusException as exc:
        raise handshake_refused(exc) from None
    except (OSError, websocket.WebSocketException) as exc:
        host = urlsplit(url).netloc
        reason = str(exc) or type(exc).__name__
        raise ConnectionFailed(f"cannot connect to {host}: {reason}") from None
    ws.settimeout(SOCKET_TIMEOUT_S)
    return ws


def readable(ws: websocket.WebSocket, timeout: float) -> bool:
    """Data waits on ``ws`` (in the TLS buffer or the socket), or ``timeout`` passed."""
    sock = ws.sock
    if sock is None:
        return True  # let recv raise the closed-socket error
    pending = getattr(sock, "pending", None)
    if callable(pending) and pending() > 0:
        return True
    ready, _, _ = select.select([sock], [], [], timeout)
    return bool(ready)


def receive(ws: websocket.WebSocket) -> Ended | str | None:
    """One frame: a text message, how the connection ended, or None (ping, pong, binary)."""
    try:
        opcode, frame = ws.recv_data_frame(control_frame=True)
    except websocket.WebSocketTimeoutException:
        return Ended(False, None, "the server stopped answering mid-message")
    except (websocket.WebSocketConnectionClosedException, OSError) as exc:
        return Ended(False, None, f"connection dropped by the server ({exc or type(exc).__name__})")
    if opcode == websocket.ABNF.OPCODE_CLOSE:
        return Ended(True, close_code(frame), "closed")
    if opcode == websocket.ABNF.OPCODE_TEXT:
        data = frame.data if hasattr(frame, "data") else frame
        return data.decode("utf-8", "replace") if isinstance(data, bytes) else str(data)
    return None


def close_quietly(ws: websocket.WebSocket) -> None:
    """Close (briefly waiting for the server's answer), then shut the socket whatever happened."""
    with contextlib.suppress(Exception):
        ws.close(timeout=0.2)
    with contextlib.suppress(Exception):
        ws.shutdown()
