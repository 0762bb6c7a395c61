"""A real ``/v2/listen`` WebSocket server on 127.0.0.1:0 that plays a script.

It records what a client sends (path, query, headers, every binary frame with its arrival
time, every text frame) and answers with scripted server messages at chosen moments, so the
client is tested over a real socket against behaviour we choose: normal turns, a refused
handshake, a fatal ``Error``, an abrupt drop, a server that never closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.frames import Frame, Opcode
from websockets.http11 import Request, Response
from websockets.protocol import Event

REQUEST_ID = "7d1c0c38-0000-4000-8000-5c71e5d00001"

# When a scripted message goes out: "connect", after N audio frames (an int), when a text
# frame of that type arrives ("ForceEndTurn", "CloseStream").
When = int | str


@dataclass
class Step:
    when: When
    message: dict[str, Any] | str
    close_after: bool = False  # close (with close_code) right after sending this one


@dataclass
class Script:
    steps: list[Step] = field(default_factory=list)
    send_connected: bool = True
    refuse: tuple[int, str] | None = None  # (HTTP status, dg-error) for the handshake
    drop_after_frames: int | None = None  # abort the TCP connection after N audio frames
    close_on_close_stream: bool = True
    close_code: int | None = None  # None: a close frame with no status (the client sees 1005)
    close_delay_s: float = 0.0  # stay quiet this long after CloseStream before closing
    request_id: str = REQUEST_ID


@dataclass
class Recorded:
    path: str = ""
    query: list[tuple[str, str]] = field(default_factory=list)
    raw_query: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    frames: list[tuple[bytes, float]] = field(default_factory=list)
    texts: list[tuple[str, float]] = field(default_factory=list)
    events: list[str] = field(default_factory=list)  # "binary" / text type, in arrival order
    pings: list[float] = field(default_factory=list)  # arrival times of WebSocket pings
    done: threading.Event = field(default_factory=threading.Event)

    @property
    def audio(self) -> bytes:
        return b"".join(data for data, _ in self.frames)


def turn(
    event: str,
    index: int,
    start: float,
    end: float,
    transcript: str,
    *,
    confidence: float = 0.1,
    words: list[dict[str, Any]] | None = None,
    trigger: str | None = None,
    word_confidence: float = 0.95,
) -> dict[str, Any]:
    """A ``TurnInfo`` message; words default to the transcript's tokens at high confidence."""
    if words is None:
        words = [{"word": w, "confidence": word_confidence} for w in transcript.split()]
    message: dict[str, Any] = {
        "type": "TurnInfo",
        "request_id": REQUEST_ID,
        "sequence_id": 0,  # the server numbers messages as it sends them
        "event": event,
        "turn_index": index,
        "audio_window_start": start,
        "audio_window_end": end,
        "transcript": transcript,
        "words": words,
        "end_of_turn_confidence": confidence,
    }
    if trigger is not None:
        message["trigger"] = trigger
    return message


class _Connection(ServerConnection):
    """Notes every ping the client sends (websockets answers them itself)."""

    pings: list[float]

    def process_event(self, event: Event) -> None:
        if isinstance(event, Frame) and event.opcode is Opcode.PING:
            self.pings.append(time.monotonic())
        super().process_event(event)


class ScriptedServer:
    """Context manager: ``with ScriptedServer(script) as srv: ... srv.url ...``.

    ``then`` gives the scripts of later connections (the last one repeats), so a test can
    have the first connection drop and the next one accept a resumed stream.
    """

    def __init__(self, script: Script | None = None, then: list[Script] | None = None) -> None:
        self.scripts = [script or Script(), *(then or [])]
        self.sessions: list[Recorded] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: Server | None = None
        self.port = 0

    @property
    def script(self) -> Script:
        """The script of the connection being handled now."""
        return self.scripts[min(len(self.sessions) - 1, len(self.scripts) - 1)]

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/v2/listen"

    @property
    def last(self) -> Recorded:
        return self.sessions[-1]

    def __enter__(self) -> ScriptedServer:
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self._start(), self._loop)
        future.result(timeout=10)
        return self

    def __exit__(self, *exc: object) -> None:
        future = asyncio.run_coroutine_threadsafe(self._stop(), self._loop)
        with contextlib.suppress(Exception):
            future.result(timeout=30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        if not self._thread.is_alive():
            self._loop.close()

    async def _start(self) -> None:
        self._server = await serve(
            self._handle,
            "127.0.0.1",
            0,
            process_request=self._process_request,
            compression=None,
            ping_interval=None,
            # A closing handshake the client never answers must not outlast ``_stop``'s wait:
            # a handler still pending when the loop closes is destroyed with a warning.
            close_timeout=2,
            create_connection=_Connection,
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def _stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 5)
        # Cancelling a handler mid-close can start new tasks; sweep until none is left, so
        # no coroutine is destroyed pending when the loop closes.
        for _ in range(5):
            others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            if not others:
                break
            for task in others:
                task.cancel()
            await asyncio.gather(*others, return_exceptions=True)

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        path, _, query = request.path.partition("?")
        self.sessions.append(Recorded())
        record = Recorded(
            path=path,
            query=parse_qsl(query, keep_blank_values=True),
            raw_query=query,
            headers={k.lower(): v for k, v in request.headers.raw_items()},
        )
        self.sessions[-1] = record
        assert isinstance(connection, _Connection)
        connection.pings = record.pings
        if self.script.refuse is not None:
            status, reason = self.script.refuse
            response = connection.respond(status, reason + "\n")
            extra = [("dg-error", reason), ("dg-request-id", self.script.request_id)]
            response.headers = Headers([*response.headers.raw_items(), *extra])
            record.done.set()
            return response
        return None

    async def _send(self, ws: ServerConnection, message: dict[str, Any] | str) -> None:
        if isinstance(message, dict):
            message = dict(message)
            message["sequence_id"] = self._sequence
            self._sequence += 1
            message = json.dumps(message)
        await ws.send(message)

    async def _close(self, ws: ServerConnection) -> None:
        code = self.script.close_code
        if code is None:
            # A close frame with no status code, as the live service sends after CloseStream.
            with contextlib.suppress(ConnectionClosed):
                async with ws.send_context():
                    ws.protocol.send_close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.wait_closed(), 5)
        else:
            await ws.close(code)

    async def _fire(self, ws: ServerConnection, when: When) -> bool:
        """Send the steps due now; True when one of them closed the connection."""
        for step in self.script.steps:
            if step.when == when:
                await self._send(ws, step.message)
                if step.close_after:
                    await self._close(ws)
                    return True
        return False

    async def _handle(self, ws: ServerConnection) -> None:
        record = self.sessions[-1]
        self._sequence = 0
        try:
            if self.script.send_connected:
                await self._send(
                    ws,
                    {"type": "Connected", "request_id": self.script.request_id},
                )
            if await self._fire(ws, "connect"):
                return
            async for data in ws:
                now = time.monotonic()
                if isinstance(data, bytes):
                    record.frames.append((data, now))
                    record.events.append("binary")
                    count = len(record.frames)
                    if self.script.drop_after_frames == count:
                        ws.transport.abort()
                        return
                    if await self._fire(ws, count):
                        return
                    continue
                record.texts.append((data, now))
                kind = str(json.loads(data).get("type"))
                record.events.append(kind)
                if await self._fire(ws, kind):
                    return
                if kind == "CloseStream" and self.script.close_on_close_stream:
                    await asyncio.sleep(self.script.close_delay_s)
                    await self._close(ws)
                    return
        except ConnectionClosed:
            pass
        finally:
            record.done.set()
