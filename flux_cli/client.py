"""The WebSocket session with a ``/v2/listen`` server: one sender thread, one receive loop.

This is the only module that imports websocket-client. It knows nothing about audio files
or terminals: it sends the frames it is given (paced as it is told), hands every server
message to a listener on the main thread, and turns each way a session can end into an
outcome or one of our exceptions (``flux_cli.errors``), so the caller decides the exit code.
"""

from __future__ import annotations

import bisect
import contextlib
import select
import threading
import time
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

import websocket

from flux_cli import protocol
from flux_cli.errors import AudioInputError, ConnectionFailed
from flux_cli.protocol import ErrorMessage, ServerMessage

PING_INTERVAL_S = 5.0
CLOSE_WAIT_S = 5.0
CONNECT_TIMEOUT_S = 10.0
FINAL_SILENCE_S = 60.0  # after CloseStream, give up on a server that goes quiet this long
SOCKET_TIMEOUT_S = 30.0
POLL_S = 0.1


@dataclass(frozen=True)
class Received:
    """One server text frame as it arrived.

    ``message`` is None when the frame could not be parsed (``problem`` says why); the raw
    text is kept either way so a log can hold exactly what the server said.
    """

    raw: str
    message: ServerMessage | None
    received_at: float
    server_delay_s: float | None = None
    problem: str | None = None


@dataclass(frozen=True)
class ConnectionInfo:
    url: str
    host: str
    request_id: str | None


@dataclass(frozen=True)
class Progress:
    audio_sent_s: float
    frames_sent: int
    input_done: bool


class Listener(Protocol):
    """What the receive loop reports to; every call happens on the main thread."""

    def on_connected(self, info: ConnectionInfo) -> None: ...

    def on_message(self, received: Received) -> None: ...

    def on_progress(self, progress: Progress) -> None: ...


@dataclass
class AudioFeed:
    """Wire frames plus what the sender needs to know about them.

    ``bytes_per_second`` maps bytes to audio time (None for compressed audio, where the
    server delay cannot be measured); ``pace(index)`` blocks until frame ``index`` is due
    (None: send as fast as the source yields, e.g. a live pipe).
    """

    frames: Iterator[bytes]
    bytes_per_second: float | None
    pace: Callable[[int], None] | None = None


@dataclass
class Outcome:
    """How a session that was not refused or dropped ended."""

    close_code: int | None
    interrupted: bool = False
    error: ErrorMessage | None = None
    closed_early: bool = False


@dataclass
class _SendLog:
    """Audio end time and monotonic send time of recent frames, for the server delay.

    Only the last ``keep`` frames are held (10 minutes at 80 ms), in compact arrays, so an
    hour-long stream does not grow memory; a delay that far behind is not worth showing.
    """

    keep: int = 7500
    ends: array[float] = field(default_factory=lambda: array("d"))
    times: array[float] = field(default_factory=lambda: array("d"))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, audio_end_s: float, sent_at: float) -> None:
        with self.lock:
            self.ends.append(audio_end_s)
            self.times.append(sent_at)
            if len(self.ends) > 2 * self.keep:
                del self.ends[: -self.keep]
                del self.times[: -self.keep]

    def sent_at(self, audio_s: float) -> float | None:
        """Send time of the frame that holds ``audio_s`` (0.5 ms slack for rounding)."""
        with self.lock:
            index = bisect.bisect_left(self.ends, audio_s - 0.0005)
            if index >= len(self.ends) or (index == 0 and audio_s < self.ends[0] - 0.2):
                return None
            return self.times[index]

    @property
    def audio_s(self) -> float:
        with self.lock:
            return self.ends[-1] if self.ends else 0.0


def _header(headers: dict[str, Any] | None, name: str) -> str | None:
    for key, value in (headers or {}).items():
        if key.lower() == name:
            return str(value)
    return None


def _handshake_refused(exc: websocket.WebSocketBadStatusException) -> ConnectionFailed:
    parts = [f"HTTP {exc.status_code}"]
    reason = _header(exc.resp_headers, "dg-error")
    if not reason and exc.resp_body:
        reason = exc.resp_body.decode("utf-8", "replace").strip()[:200] or None
    if reason:
        parts.append(f"dg-error: {reason}")
    request_id = _header(exc.resp_headers, "dg-request-id")
    if request_id:
        parts.append(f"dg-request-id: {request_id}")
    return ConnectionFailed("handshake refused: " + "; ".join(parts))


def _close_code(frame: Any) -> int | None:
    data = getattr(frame, "data", b"") or b""
    if len(data) >= 2:
        return int.from_bytes(data[:2], "big")
    return None


class Session:
    """One stream: connect, send the feed, receive until the server closes.

    ``run()`` returns an Outcome for a normal end, a server ``Error``, or Ctrl-C, and raises
    ConnectionFailed when the connection is refused or drops, AudioInputError when the
    audio fails part-way (after the server's answer to what was sent has been received).
    """

    def __init__(
        self,
        url: str,
        feed: AudioFeed,
        listener: Listener,
        *,
        api_key: str | None = None,
        force_end_turn: bool = False,
        ping_interval_s: float = PING_INTERVAL_S,
        close_wait_s: float = CLOSE_WAIT_S,
        connect_timeout_s: float = CONNECT_TIMEOUT_S,
        final_silence_s: float = FINAL_SILENCE_S,
    ) -> None:
        self.url = url
        self.feed = feed
        self.listener = listener
        self._api_key = api_key
        self.force_end_turn = force_end_turn
        self.ping_interval_s = ping_interval_s
        self.close_wait_s = close_wait_s
        self.connect_timeout_s = connect_timeout_s
        self.final_silence_s = final_silence_s
        self._last_heard = time.monotonic()
        self._stop = threading.Event()
        self._send_lock = threading.Lock()
        self._close_sent = False
        self._sender_error: BaseException | None = None
        self._input_done = False
        self._last_send = time.monotonic()
        self._log = _SendLog()
        self._frames_sent = 0
        self._error: ErrorMessage | None = None

    # ------------------------------------------------------------------ connect

    def _connect(self) -> websocket.WebSocket:
        header = [f"Authorization: Token {self._api_key}"] if self._api_key else []
        try:
            ws = websocket.create_connection(
                self.url,
                header=header,
                enable_multithread=True,
                timeout=self.connect_timeout_s,
            )
        except websocket.WebSocketBadStatusException as exc:
            raise _handshake_refused(exc) from None
        except (OSError, websocket.WebSocketException) as exc:
            host = urlsplit(self.url).netloc
            reason = str(exc) or type(exc).__name__
            raise ConnectionFailed(f"cannot connect to {host}: {reason}") from None
        ws.settimeout(SOCKET_TIMEOUT_S)
        return ws

    # ------------------------------------------------------------------ sender thread

    def _send_control(self, ws: websocket.WebSocket, *messages: protocol.ClientMessage) -> None:
        """Send control messages and CloseStream once; the lock keeps audio from following."""
        with self._send_lock:
            self._stop.set()
            if self._close_sent:
                return
            self._close_sent = True
            for message in messages:
                ws.send(protocol.dumps(message))
            self._last_send = self._last_heard = time.monotonic()

    def _closing_messages(self) -> list[protocol.ClientMessage]:
        messages: list[protocol.ClientMessage] = []
        if self.force_end_turn:
            messages.append(protocol.ForceEndTurn())
        messages.append(protocol.CloseStream())
        return messages

    def _sender(self, ws: websocket.WebSocket) -> None:
        total_bytes = 0
        index = 0
        try:
            for frame in self.feed.frames:
                if not frame:
                    continue
                if self.feed.pace is not None:
                    self.feed.pace(index)
                with self._send_lock:
                    if self._stop.is_set():
                        return
                    ws.send_binary(frame)
                    sent_at = time.monotonic()
                    self._last_send = sent_at
                total_bytes += len(frame)
                index += 1
                if self.feed.bytes_per_second:
                    self._log.add(total_bytes / self.feed.bytes_per_second, sent_at)
                self._frames_sent = index
            self._input_done = True
            self._send_control(ws, *self._closing_messages())
        except BaseException as exc:
            self._sender_error = exc
            if isinstance(exc, AudioInputError):
                # Let the server answer what it already has, then report the bad input.
                with contextlib.suppress(Exception):
                    self._send_control(ws, protocol.CloseStream())
        finally:
            self._stop.set()

    # ------------------------------------------------------------------ receive loop

    def _progress(self) -> Progress:
        return Progress(
            audio_sent_s=self._log.audio_s,
            frames_sent=self._frames_sent,
            input_done=self._input_done,
        )

    def _readable(self, ws: websocket.WebSocket, timeout: float) -> bool:
        sock = ws.sock
        if sock is None:
            return True  # let recv raise the closed-socket error
        pending = getattr(sock, "pending", None)
        if callable(pending) and pending() > 0:
            return True
        ready, _, _ = select.select([sock], [], [], timeout)
        return bool(ready)

    def _deliver(self, text: str) -> ErrorMessage | None:
        received_at = time.time()
        monotonic_now = time.monotonic()
        try:
            message: ServerMessage | None = protocol.parse_server_message(text)
            problem = None
        except protocol.ProtocolError as exc:
            message, problem = None, str(exc)
        delay = None
        if isinstance(message, protocol.TurnInfo):
            sent_at = self._log.sent_at(message.audio_window_end)
            if sent_at is not None:
                delay = max(0.0, monotonic_now - sent_at)
        self.listener.on_message(Received(text, message, received_at, delay, problem))
        return message if isinstance(message, ErrorMessage) else None

    def _receive(self, ws: websocket.WebSocket, deadline: float | None) -> tuple[bool, int | None]:
        """Receive until the server closes (True, code) or the deadline passes (False, None)."""
        while True:
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                return False, None
            self._check_sender()
            if now - self._last_send >= self.ping_interval_s:
                self._last_send = now
                with contextlib.suppress(websocket.WebSocketException, OSError):
                    ws.ping()
            if not self._readable(ws, POLL_S):
                if self._close_sent and now - self._last_heard > self.final_silence_s:
                    raise ConnectionFailed(
                        f"the server sent nothing for {self.final_silence_s:g} s after "
                        "CloseStream and did not close the stream"
                    )
                self.listener.on_progress(self._progress())
                continue
            self._last_heard = now
            try:
                opcode, frame = ws.recv_data_frame(control_frame=True)
            except websocket.WebSocketTimeoutException:
                raise ConnectionFailed("the server stopped answering mid-message") from None
            except (websocket.WebSocketConnectionClosedException, OSError) as exc:
                raise ConnectionFailed(
                    f"connection dropped by the server ({exc or type(exc).__name__})"
                ) from None
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                return True, _close_code(frame)
            if opcode == websocket.ABNF.OPCODE_TEXT:
                data = frame.data if hasattr(frame, "data") else frame
                text = data.decode("utf-8", "replace") if isinstance(data, bytes) else str(data)
                error = self._deliver(text)
                if error is not None:
                    self._error = error
            self.listener.on_progress(self._progress())

    def run(self) -> Outcome:
        ws = self._connect()
        try:
            headers = ws.getheaders() or {}
            host = urlsplit(self.url).netloc
            self.listener.on_connected(
                ConnectionInfo(self.url, host, _header(headers, "dg-request-id"))
            )
            sender = threading.Thread(target=self._sender, args=(ws,), daemon=True, name="sender")
            sender.start()
            try:
                closed, code = self._receive(ws, None)
            except KeyboardInterrupt:
                return self._interrupted(ws)
            self._stop.set()
            self.listener.on_progress(self._progress())
            self._raise_sender_error()
            return Outcome(
                close_code=code,
                error=self._error,
                closed_early=closed and not self._close_sent,
            )
        finally:
            self._stop.set()
            with contextlib.suppress(Exception):
                ws.close(timeout=0.2)
            with contextlib.suppress(Exception):
                ws.shutdown()

    def _interrupted(self, ws: websocket.WebSocket) -> Outcome:
        """Ctrl-C once: stop sending, CloseStream, take the last messages (bounded)."""
        code = None
        try:
            with contextlib.suppress(websocket.WebSocketException, OSError):
                self._send_control(ws, protocol.CloseStream())
            with contextlib.suppress(ConnectionFailed):
                _, code = self._receive(ws, time.monotonic() + self.close_wait_s)
        except KeyboardInterrupt:
            pass  # twice: leave at once
        return Outcome(close_code=code, interrupted=True, error=self._error)

    def _check_sender(self) -> None:
        """A bug in the sender thread must not leave us waiting for a close that never comes."""
        exc = self._sender_error
        if exc is not None and not isinstance(
            exc, AudioInputError | websocket.WebSocketException | OSError
        ):
            raise exc

    def _raise_sender_error(self) -> None:
        exc = self._sender_error
        if exc is None:
            return
        if isinstance(exc, AudioInputError):
            raise exc
        if isinstance(exc, websocket.WebSocketException | OSError):
            return  # the receive loop has already reported how the connection ended
        raise exc
