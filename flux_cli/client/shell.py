"""The WebSocket shell around ``ClientCore``: sockets, threads, pings and the clock.

Only this module and ``handshake.py`` import websocket-client. The protocol decisions (what goes on
the wire and when, close ordering, what a reconnect re-sends, the shifted timeline) are the
core's; this module moves bytes: one sender thread feeds audio in and flushes what the core
says to send, the main thread receives, pings, reconnects with backoff, and hands every
server message to a listener. Each way a session can end becomes an outcome or one of our
exceptions (``flux_cli.errors``), so the caller decides the exit code.
"""

from __future__ import annotations

import contextlib
import threading
import time
from urllib.parse import urlsplit

import websocket

from flux_cli import protocol
from flux_cli.client.core import ClientCore, SendAudio, backoff_s
from flux_cli.client.events import ConnectionInfo, Listener, Progress, Received, Reconnect
from flux_cli.client.feed import AudioFeed, Outcome, SendLog
from flux_cli.client.websocket_io import (
    TOO_MANY_STREAMS,
    Ended,
    HandshakeRefused,
    close_quietly,
    header,
    open_socket,
    readable,
    receive,
)
from flux_cli.errors import AudioInputError, ConnectionFailed
from flux_cli.protocol import StreamParams

PING_INTERVAL_S = 5.0
CLOSE_WAIT_S = 5.0
CONNECT_TIMEOUT_S = 10.0
FINAL_SILENCE_S = 60.0  # after CloseStream, give up on a server that goes quiet this long
POLL_S = 0.1
# Unpaced input (--fast): audio sent beyond what the server has acknowledged. Enough to keep
# the server busy between its Updates (every 0.25 s of audio), little enough that the socket
# never fills: a full socket blocks send_binary, which holds websocket-client's lock, so our
# pong (and the user's keys) would wait behind minutes of audio and the server's keepalive
# would cut the stream.
FAST_WINDOW_S = 5.0
ACK_STALL_S = 2.0  # a server that stops acknowledging (not Flux-like): fall back to TCP's pace


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
        self._acked = threading.Event()  # set when the server acknowledges more audio
        self._acked_at = time.monotonic()
        self.window_s = FAST_WINDOW_S
        self._log = SendLog()
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
        return open_socket(self.url, self._api_key, self.connect_timeout_s)

    def _announce(self, ws: websocket.WebSocket) -> None:
        headers = ws.getheaders() or {}
        host = urlsplit(self.url).netloc
        self.listener.on_connected(
            ConnectionInfo(self.url, host, header(headers, "dg-request-id"))
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
                    self._acked_at = time.monotonic()
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

    def _send_pending(self, frame: bytes | None = None, end_s: float | None = None) -> None:
        """Put what the core has queued on the current socket; call with ``_send_lock`` held.

        ``frame``: new audio for the core first (one lock round for the sender's hot path).

        A failed send is left to the receive loop, which sees the connection end: audio the
        server had not finished with is still in the core and goes out again on a resume.
        """
        with self._core_lock:
            if frame is not None:
                self.core.audio(frame, end_s)
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
                if self.feed.pace is None:
                    self._wait_for_acknowledgement()
                if self._stop.is_set():
                    return
                end_s = self.feed.end_s(frame) if self.feed.end_s is not None else None
                with self._send_lock:
                    self._send_pending(frame, end_s)
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

    def _wait_for_acknowledgement(self) -> None:
        """Unpaced input: hold the next frame while ``window_s`` of audio is in flight."""
        while not self._stop.is_set():
            with self._core_lock:
                ahead = self.core.audio_s - self.core.acknowledged_s
            if ahead < self.window_s or time.monotonic() - self._acked_at > ACK_STALL_S:
                return
            self._acked.wait(POLL_S)
            self._acked.clear()

    # ------------------------------------------------------------------ receive loop

    def _progress(self) -> Progress:
        return Progress(
            audio_sent_s=self._log.audio_s,
            input_done=self.core.input_done,
        )

    def _deliver(self, text: str) -> None:
        received_at = time.time()
        monotonic_now = time.monotonic()
        with self._core_lock:
            acknowledged = self.core.acknowledged_s
            event = self.core.receive(text)
            if self.core.acknowledged_s > acknowledged:
                self._acked_at = monotonic_now
                self._acked.set()
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

    def _serve(self, ws: websocket.WebSocket, deadline: float | None) -> Ended | None:
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
            if not readable(ws, POLL_S):
                if self.core.close_requested and now - self._last_heard > self.final_silence_s:
                    raise ConnectionFailed(
                        f"the server sent nothing for {self.final_silence_s:g} s after "
                        "CloseStream and did not close the stream"
                    )
                self.listener.on_progress(self._progress())
                continue
            self._last_heard = now
            got = receive(ws)
            if isinstance(got, Ended):
                return got
            if got is not None:
                self._deliver(got)
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
            self._acked_at = time.monotonic()
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
                    ws = self._resume(ended.drop_reason)
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
                if sock is not None:
                    close_quietly(sock)

    def _settle(self, ended: Ended) -> Outcome | None:
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
