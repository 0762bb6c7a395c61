"""The WebSocket shell around ``ClientCore``: sockets, threads, pings and the clock.

This is the only module that imports websocket-client. The protocol decisions (what goes on
the wire and when, close ordering, what a reconnect re-sends, the shifted timeline) are the
core's; this module moves bytes: one sender thread feeds audio in and flushes what the core
says to send, the main thread receives, pings, reconnects with backoff, and hands every
server message to a listener. Each way a session can end becomes an outcome or one of our
exceptions (``flux_cli.errors``), so the caller decides the exit code.
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
from typing import Any
from urllib.parse import urlsplit

import websocket

from flux_cli import protocol
from flux_cli.client_core import ClientCore, SendAudio, backoff_s
from flux_cli.errors import AudioInputError, ConnectionFailed
from flux_cli.protocol import ErrorMessage, StreamParams
from flux_cli.session_events import ConnectionInfo, Listener, Progress, Received, Reconnect

PING_INTERVAL_S = 5.0
CLOSE_WAIT_S = 5.0
CONNECT_TIMEOUT_S = 10.0
FINAL_SILENCE_S = 60.0  # after CloseStream, give up on a server that goes quiet this long
SOCKET_TIMEOUT_S = 30.0
POLL_S = 0.1


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
    sample_bytes: int = 2  # a re-sent turn starts on a whole sample
    # A file can wait while the stream reconnects; a live pipe cannot (its audio is kept
    # in the core's bounded re-send buffer meanwhile).
    can_wait: bool = False


@dataclass
class Outcome:
    """How a session that was not refused or dropped ended."""

    close_code: int | None
    interrupted: bool = False
    error: ErrorMessage | None = None
    closed_early: bool = False
    reconnects: int = 0


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

    def forget_after(self, audio_s: float) -> None:
        """A resumed stream sends this audio again: keep the log sorted by audio time."""
        with self.lock:
            keep = bisect.bisect_right(self.ends, audio_s + 0.0005)
            del self.ends[keep:]
            del self.times[keep:]


def _header(headers: dict[str, Any] | None, name: str) -> str | None:
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


def _handshake_refused(exc: websocket.WebSocketBadStatusException) -> HandshakeRefused:
    if exc.status_code == TOO_MANY_STREAMS:
        request_id = _header(exc.resp_headers, "dg-request-id")
        return HandshakeRefused(
            "handshake refused: HTTP 429: too many concurrent streams for this project (the "
            "live service allows 50 Flux streams at once); close another stream or try later"
            + (f"; dg-request-id: {request_id}" if request_id else ""),
            TOO_MANY_STREAMS,
        )
    parts = [f"HTTP {exc.status_code}"]
    reason = _header(exc.resp_headers, "dg-error")
    if not reason and exc.resp_body:
        reason = exc.resp_body.decode("utf-8", "replace").strip()[:200] or None
    if reason:
        parts.append(f"dg-error: {reason}")
    request_id = _header(exc.resp_headers, "dg-request-id")
    if request_id:
        parts.append(f"dg-request-id: {request_id}")
    return HandshakeRefused("handshake refused: " + "; ".join(parts), int(exc.status_code))


def _close_code(frame: Any) -> int | None:
    data = getattr(frame, "data", b"") or b""
    if len(data) >= 2:
        return int.from_bytes(data[:2], "big")
    return None


@dataclass(frozen=True)
class _Ended:
    """How one connection ended: a close frame (``code``, maybe None) or a drop (``reason``)."""

    close_frame: bool
    code: int | None
    reason: str


class Session:
    """One stream, over as many connections as it takes: connect, send, receive, resume.

    ``run()`` returns an Outcome for a normal end, a server ``Error``, or Ctrl-C, and raises
    ConnectionFailed when the connection is refused or drops past the reconnect budget,
    AudioInputError when the audio fails part-way (after the server's answer to what was
    sent has been received). ``force_end_turn()`` and ``configure()`` may be called from any
    thread (a key handler, say) while ``run()`` is going.
    """

    def __init__(
        self,
        url: str,
        feed: AudioFeed,
        listener: Listener,
        *,
        api_key: str | None = None,
        force_end_turn_at_close: bool = False,
        params: StreamParams | None = None,
        reconnect: int = 0,
        backoff_first_s: float = 0.5,
        backoff_max_s: float = 8.0,
        resend_limit_s: float = 120.0,
        ping_interval_s: float = PING_INTERVAL_S,
        close_wait_s: float = CLOSE_WAIT_S,
        connect_timeout_s: float = CONNECT_TIMEOUT_S,
        final_silence_s: float = FINAL_SILENCE_S,
    ) -> None:
        self.url = url
        self.feed = feed
        self.listener = listener
        self._api_key = api_key
        self.reconnect = reconnect
        self.backoff_first_s = backoff_first_s
        self.backoff_max_s = backoff_max_s
        self.ping_interval_s = ping_interval_s
        self.close_wait_s = close_wait_s
        self.connect_timeout_s = connect_timeout_s
        self.final_silence_s = final_silence_s
        self.core = ClientCore(
            feed.bytes_per_second,
            sample_bytes=feed.sample_bytes,
            force_end_turn=force_end_turn_at_close,
            params=params,
            resend_limit_s=resend_limit_s,
        )
        self._core_lock = threading.Lock()  # guards the core and the current socket
        self._send_lock = threading.Lock()  # keeps what the core hands out in wire order
        self._ws: websocket.WebSocket | None = None
        self._stop = threading.Event()
        self._open = threading.Event()  # set while a socket is up (the sender may wait on it)
        self._sender_error: BaseException | None = None
        self._last_send = self._last_heard = time.monotonic()
        self._log = _SendLog()
        self._reconnects = 0
        # Reconnect attempts count until a resumed connection has caught up with the audio
        # sent before the drop: a server that drops every stream at the same point must
        # not be retried forever.
        self._attempts = 0
        self._recovered_at: float | None = None

    # ------------------------------------------------------------------ public controls

    def force_end_turn(self) -> bool:
        """Send ``ForceEndTurn`` now (any thread); False when no stream is open to take it."""
        with self._send_lock:
            with self._core_lock:
                sent = self.core.force_end_turn()
            self._send_pending()
        return sent

    def finish(self) -> None:
        """End the stream now (any thread), as if the input had ended: no more audio, then
        CloseStream (after ForceEndTurn if asked for at close); the server's last messages
        arrive as usual and ``run()`` returns a normal outcome. For the ``q`` key."""
        self._stop.set()
        with self._send_lock:
            with self._core_lock:
                self.core.end_of_input()
            self._send_pending()

    def configure(
        self,
        *,
        thresholds: dict[str, float | int | None] | None = None,
        keyterms: list[str] | None = None,
        language_hints: list[str] | None = None,
    ) -> bool:
        """Send ``Configure`` (any thread). Raises ``protocol.ParamError`` on a value the
        server would refuse; False when no stream is open. The answer arrives as a
        ``ConfigureSuccess`` / ``ConfigureFailure`` message through the listener."""
        with self._send_lock:
            with self._core_lock:
                message = self.core.configure(thresholds, keyterms, language_hints)
            self._send_pending()
        return message is not None

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

    def _announce(self, ws: websocket.WebSocket) -> None:
        headers = ws.getheaders() or {}
        host = urlsplit(self.url).netloc
        self.listener.on_connected(
            ConnectionInfo(self.url, host, _header(headers, "dg-request-id"))
        )

    def _first_connection(self) -> websocket.WebSocket:
        """Connect; a 429 (too many streams) is retried with backoff, anything else is final."""
        attempt = 0
        while True:
            try:
                return self._connect()
            except HandshakeRefused as exc:
                attempt += 1
                if exc.status != TOO_MANY_STREAMS or attempt > self.reconnect:
                    raise
                delay = backoff_s(attempt, self.backoff_first_s, self.backoff_max_s)
                self.listener.on_reconnect(
                    Reconnect(
                        attempt,
                        self.reconnect,
                        "the server has too many streams open (HTTP 429)",
                        resumed=False,
                        delay_s=delay,
                    )
                )
                time.sleep(delay)

    def _resume(self, reason: str) -> websocket.WebSocket:
        """Reconnect with bounded exponential backoff and re-send the unfinished turn.

        401/400/403 end it with that error; 429 and network errors are retried, up to
        ``reconnect`` attempts.
        """
        last = reason
        dropped_at = self._log.audio_s
        while self._attempts < self.reconnect:
            self._attempts += 1
            attempt = self._attempts
            delay = backoff_s(attempt, self.backoff_first_s, self.backoff_max_s)
            self.listener.on_reconnect(
                Reconnect(attempt, self.reconnect, last, resumed=False, delay_s=delay)
            )
            time.sleep(delay)
            try:
                ws = self._connect()
            except HandshakeRefused as exc:
                if exc.status != TOO_MANY_STREAMS:
                    raise
                last = exc.message
                continue
            except ConnectionFailed as exc:
                last = exc.message
                continue
            with self._send_lock:
                with self._core_lock:
                    resume = self.core.connection_opened()
                    self._ws = ws
                    self._open.set()
                assert resume is not None
                self._log.forget_after(resume.from_s)
                self._recovered_at = dropped_at
                self._reconnects += 1
                self._announce(ws)
                self.listener.on_reconnect(
                    Reconnect(
                        attempt,
                        self.reconnect,
                        reason,
                        resumed=True,
                        resume_from_s=resume.from_s,
                        resent_s=resume.resent_s,
                        turn_offset=resume.turn_offset,
                        lost_s=resume.lost_s,
                        catch_up_to_s=resume.catch_up_to_s,
                    )
                )
                self._send_pending()
            return ws
        plural = "s" if self.reconnect != 1 else ""
        tail = f" (last: {last})" if last != reason else ""
        raise ConnectionFailed(
            f"{reason}; gave up after {self.reconnect} reconnect attempt{plural}{tail}"
        )

    # ------------------------------------------------------------------ sending

    def _send_pending(self, frame: bytes | None = None) -> None:
        """Put what the core has queued on the current socket; call with ``_send_lock`` held.

        ``frame``: new audio for the core first (one lock round for the sender's hot path).

        A failed send is left to the receive loop, which sees the connection end: audio the
        server had not finished with is still in the core and goes out again on a resume.
        """
        with self._core_lock:
            if frame is not None:
                self.core.audio(frame)
            items = self.core.data_to_send()
            ws = self._ws
        if ws is None:
            return
        try:
            for item in items:
                if isinstance(item, SendAudio):
                    # logged first: the server's answer may arrive before send_binary returns
                    self._log.add(item.end_s, time.monotonic())
                    ws.send_binary(item.data)
                else:
                    ws.send(item.text)
                self._last_send = time.monotonic()
        except (OSError, websocket.WebSocketException):
            return

    def _flush(self) -> None:
        with self._send_lock:
            self._send_pending()

    def _sender(self) -> None:
        """The sender thread: pull (and pace) frames from the feed into the core, flush."""
        index = 0
        try:
            for frame in self.feed.frames:
                if not frame:
                    continue
                if self.feed.pace is not None:
                    self.feed.pace(index)
                if self.feed.can_wait:
                    while not self._open.wait(POLL_S):
                        if self._stop.is_set():
                            return
                if self._stop.is_set():
                    return
                with self._send_lock:
                    self._send_pending(frame)
                index += 1
            with self._core_lock:
                self.core.end_of_input()
            self._flush()
        except BaseException as exc:
            self._sender_error = exc
            if isinstance(exc, AudioInputError):
                # Let the server answer what it already has, then report the bad input.
                with self._core_lock:
                    self.core.stop()
                with contextlib.suppress(Exception):
                    self._flush()

    # ------------------------------------------------------------------ receive loop

    def _progress(self) -> Progress:
        return Progress(
            audio_sent_s=self._log.audio_s,
            frames_sent=self.core.frames_in,
            input_done=self.core.input_done,
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

    def _deliver(self, text: str) -> None:
        received_at = time.time()
        monotonic_now = time.monotonic()
        with self._core_lock:
            event = self.core.receive(text)
        if event.superseded:
            return
        delay = None
        if isinstance(event.message, protocol.TurnInfo):
            end = event.message.audio_window_end
            if self._recovered_at is not None and end >= self._recovered_at:
                self._attempts, self._recovered_at = 0, None
            sent_at = self._log.sent_at(end)
            if sent_at is not None:
                delay = max(0.0, monotonic_now - sent_at)
        self.listener.on_message(
            Received(event.raw, event.message, received_at, delay, event.problem)
        )

    def _serve(self, ws: websocket.WebSocket, deadline: float | None) -> _Ended | None:
        """Receive on ``ws`` until it ends (how) or the deadline passes (None)."""
        self._last_heard = time.monotonic()
        while True:
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                return None
            self._check_sender()
            if now - self._last_send >= self.ping_interval_s:
                self._last_send = now
                with contextlib.suppress(websocket.WebSocketException, OSError):
                    ws.ping()
            if not self._readable(ws, POLL_S):
                if self.core.close_requested and now - self._last_heard > self.final_silence_s:
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
                return _Ended(False, None, "the server stopped answering mid-message")
            except (websocket.WebSocketConnectionClosedException, OSError) as exc:
                return _Ended(
                    False, None, f"connection dropped by the server ({exc or type(exc).__name__})"
                )
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                return _Ended(True, _close_code(frame), "closed")
            if opcode == websocket.ABNF.OPCODE_TEXT:
                data = frame.data if hasattr(frame, "data") else frame
                text = data.decode("utf-8", "replace") if isinstance(data, bytes) else str(data)
                self._deliver(text)
            self.listener.on_progress(self._progress())

    def _lose(self, ws: websocket.WebSocket) -> None:
        """Forget a socket that ended: a sender blocked on it fails now instead of later."""
        self._open.clear()
        with self._core_lock:
            self.core.connection_lost()
            self._ws = None
        with contextlib.suppress(Exception):
            ws.shutdown()

    def run(self) -> Outcome:
        ws = self._first_connection()
        with self._core_lock:
            self.core.connection_opened()
            self._ws = ws
            self._open.set()
        sender = threading.Thread(target=self._sender, daemon=True, name="sender")
        try:
            self._announce(ws)
            sender.start()
            while True:
                try:
                    ended = self._serve(ws, None)
                except KeyboardInterrupt:
                    return self._interrupted(ws)
                assert ended is not None
                outcome = self._settle(ended)
                if outcome is not None:
                    self.listener.on_progress(self._progress())
                    self._raise_sender_error()
                    return outcome
                self._lose(ws)
                try:
                    ws = self._resume(self._drop_reason(ended))
                except KeyboardInterrupt:
                    return Outcome(
                        None, interrupted=True, error=self.core.error, reconnects=self._reconnects
                    )
        finally:
            self._stop.set()
            with self._core_lock:
                self.core.finished()
                current, self._ws = self._ws, None
            for sock in {id(ws): ws, id(current): current}.values():
                if sock is None:
                    continue
                with contextlib.suppress(Exception):
                    sock.close(timeout=0.2)
                with contextlib.suppress(Exception):
                    sock.shutdown()

    def _settle(self, ended: _Ended) -> Outcome | None:
        """The outcome of a connection that ended, or None to resume the stream."""
        closing = self.core.close_requested
        if self.core.error is not None or (ended.close_frame and closing):
            return Outcome(ended.code, error=self.core.error, reconnects=self._reconnects)
        code = ended.code if ended.close_frame else None
        if self.reconnect > 0 and self.core.should_resume(code, interrupted=False):
            return None
        if not ended.close_frame:
            self._raise_sender_error()
            if self.reconnect > 0 and self.core.bytes_per_second is None:
                raise ConnectionFailed(
                    f"{ended.reason}; an Ogg/Opus stream passed through cannot be resumed"
                )
            raise ConnectionFailed(ended.reason)
        return Outcome(ended.code, closed_early=True, reconnects=self._reconnects)

    @staticmethod
    def _drop_reason(ended: _Ended) -> str:
        if ended.close_frame:
            return f"the server closed the stream with code {ended.code}"
        return ended.reason

    def _interrupted(self, ws: websocket.WebSocket) -> Outcome:
        """Ctrl-C once: stop sending, CloseStream, take the last messages (bounded)."""
        self._stop.set()
        code = None
        try:
            with self._core_lock:
                self.core.stop()
            with contextlib.suppress(websocket.WebSocketException, OSError):
                self._flush()
            with contextlib.suppress(ConnectionFailed):
                ended = self._serve(ws, time.monotonic() + self.close_wait_s)
                code = ended.code if ended is not None else None
        except KeyboardInterrupt:
            pass  # twice: leave at once
        return Outcome(
            close_code=code, interrupted=True, error=self.core.error, reconnects=self._reconnects
        )

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
