"""One stream's connection: a reader, a backlog, and a worker driving its TurnSession.

Each connection has a reader (frames → an ordered backlog bounded by audio bytes), a worker
(backlog → session → messages) and a keepalive (pings that never count the server's own
backlog against the client). The worker runs the session in a thread so model calls never block the
event loop, and interim transcripts for ``Update``s are decoded in the background on
snapshots, never holding up a decision. Everything a connection does is inside one ``try``:
a misbehaving client gets an ``Error`` and a close, and nobody else notices.

Plain GETs of ``/healthz``, ``/readyz``, ``/v1/status`` and ``/metrics`` are answered in the
handshake hook (``endpoints.py``); capacity (429) and drain (503) are decided there too.

Choices where the protocol leaves room (documented in README/docs):
- An empty binary frame is ignored (the live service asks clients never to send one).
- The idle timer (``idle_timeout_s``) is reset by audio frames and ``KeepAlive``; other
  control messages and WebSocket pings do not count as audio.
- Nothing a client does can grow the server's memory without bound: a frame above
  ``MAX_MESSAGE_BYTES`` is refused, at most ``BACKLOG_BYTES`` of audio wait per connection
  (then TCP pushes back on the client), and a client that stops reading for ``send_timeout_s``
  while we have messages for it is cut off.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING, Any, Protocol

from flux_cli.engine.detector import DetectorConfig
from flux_cli.engine.interfaces import SAMPLE_RATE, Engine, Transcript
from flux_cli.engine.session import InterimJob, TurnSession
from flux_cli.protocol import (
    CloseStream,
    Configure,
    KeepAlive,
    ProtocolError,
    ServerMessage,
    TurnInfo,
    dumps,
    parse_client_message,
)
from flux_cli.server.backlog import Backlog
from flux_cli.server.handshake import Accepted
from flux_cli.server.logs import STREAM_FIELD
from flux_cli.server.metrics import ServerMetrics
from flux_cli.server.stream_core import (
    BACKLOG_BYTES,
    CLOSE_ERROR,
    CLOSE_GOING_AWAY,
    CLOSE_NORMAL,
    CLOSE_POLICY,
    CLOSE_TOO_BIG,
    MAX_MESSAGE_BYTES,
    SHUTDOWN_GRACE_S,
    Arrivals,
    Disconnected,
    Fatal,
    Frame,
    Limits,
    QueueItem,
    SlowClient,
    tame_numbers,
)

if TYPE_CHECKING:
    from websockets.asyncio.server import ServerConnection


log = logging.getLogger("flux_cli.server")


class StreamHost(Protocol):
    """What a connection uses of the server it belongs to (``app.ListenApp``)."""

    engine: Engine
    detector: DetectorConfig
    limits: Limits
    metrics: ServerMetrics
    interim_running: int  # interim decodes in flight, server-wide
    interim_limit: int


class Connection:
    def __init__(self, app: StreamHost, ws: ServerConnection, accepted: Accepted) -> None:
        self.app = app
        self.ws = ws
        self.decoder = accepted.decoder
        self.session = TurnSession(
            vad=app.engine.vad.new_stream(),
            transcriber=app.engine.transcriber,
            smart_turn=app.engine.smart_turn,
            interim_transcriber=app.engine.interim_transcriber,
            speaker=app.engine.speaker,
            voice_pauses=app.engine.voice_pauses,
            params=accepted.params,
            request_id=accepted.request_id,
            config=app.detector,
            sync_interim=False,
        )
        self.backlog: Backlog[QueueItem] = Backlog(BACKLOG_BYTES)
        self.aborting = False
        self.outcome = "disconnected"
        self.arrivals = Arrivals()
        self.processing_s = 0.0
        self._interim: asyncio.Future[Transcript] | None = None
        self._interim_job: InterimJob | None = None
        self.finished = asyncio.Event()

    async def run(self) -> None:
        from websockets.exceptions import ConnectionClosed

        reader = asyncio.create_task(self._read())
        keepalive = asyncio.create_task(self._keepalive())
        try:
            await self._send(self.session.start())
            await self._work()
        except ConnectionClosed:
            log.info("client %s left", self.session.request_id)
        except SlowClient:
            self.outcome = "slow_client"
            log.info("client %s stopped reading: connection cut", self.session.request_id)
            self.ws.transport.abort()
        except Exception as exc:  # contained: this connection only
            self.outcome = "internal_error"
            log.exception("connection %s failed", self.session.request_id)
            with contextlib.suppress(Exception):
                await self._send([self.session.error("INTERNAL_SERVER_ERROR", str(exc))])
                await self.ws.close(CLOSE_ERROR, "internal error")
        finally:
            for task in (reader, keepalive):
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
            if self._interim is not None:
                self._interim.cancel()
            self._account()
            self.finished.set()

    def _account(self) -> None:
        metrics = self.app.metrics
        metrics.streams.labels(self.outcome).inc()
        audio_s = self.arrivals.samples / SAMPLE_RATE
        if audio_s > 0:
            metrics.real_time_factor.observe(self.processing_s / audio_s)
        figures = {
            "request_id": self.session.request_id, "audio_s": round(audio_s, 3),
            "turns": self.session.turn_index, "outcome": self.outcome,
            "close_code": self.ws.close_code,
        }
        log.info("stream %s: %.1f s of audio, %d turns, %s, close %s", figures["request_id"],
                 audio_s, figures["turns"], self.outcome, figures["close_code"],
                 extra={STREAM_FIELD: figures})

    async def shut_down(self, drain_timeout_s: float) -> None:
        """The drain timeout has passed: an Error, a close, and the worker stops.

        The Error goes through the queue like any fatal problem, so it is numbered after
        every message already sent; a worker stuck past a few seconds is cut off.
        """
        fatal = Fatal("SERVER_SHUTTING_DOWN",
                       f"the server is shutting down (drain timeout of {drain_timeout_s:g} s)",
                       CLOSE_GOING_AWAY, outcome="drained")
        self.aborting = True
        self.backlog.put_now(fatal)
        try:
            await asyncio.wait_for(self.finished.wait(), SHUTDOWN_GRACE_S)
        except TimeoutError:
            self.outcome = "drained"
            self.ws.transport.abort()

    async def _read(self) -> None:
        """Frames → queue; then keep reading (and dropping) until the connection closes.

        websockets stops reading the socket when nobody takes its frames, and then would
        never see the client's answer to our close: a client still sending after its
        CloseStream or its fatal error would hold the connection for the close timeout.
        """
        from websockets.exceptions import ConnectionClosed

        try:
            await self._read_frames()
        except Exception as exc:  # never die silently: the worker would wait for ever
            log.exception("reading from %s failed", self.session.request_id)
            await self._abort(Fatal("INTERNAL_SERVER_ERROR", str(exc), CLOSE_ERROR))
        with contextlib.suppress(ConnectionClosed):
            while True:
                await self.ws.recv()

    async def _read_frames(self) -> None:
        """Frames → queue, in order; stops at CloseStream, a fatal problem or a disconnect."""
        from websockets.exceptions import ConnectionClosed

        timeout = self.app.limits.idle_timeout_s
        deadline = time.monotonic() + timeout
        while True:
            try:
                frame = await asyncio.wait_for(
                    self.ws.recv(), timeout=max(deadline - time.monotonic(), 0.0)
                )
            except TimeoutError:
                await self._abort(Fatal("NO_AUDIO_TIMEOUT",
                                         f"no audio received for {timeout:g} seconds",
                                         CLOSE_ERROR))
                return
            except ConnectionClosed:
                self.backlog.put_now(Disconnected())
                return
            if len(frame) > MAX_MESSAGE_BYTES:
                await self._abort(Fatal(
                    "MESSAGE_TOO_BIG",
                    f"a message of {len(frame)} bytes is above the {MAX_MESSAGE_BYTES} limit",
                    CLOSE_TOO_BIG))
                return
            if isinstance(frame, bytes):
                if frame:  # an empty binary frame is ignored
                    await self.backlog.put(Frame(frame, time.monotonic()), len(frame))
                # time spent waiting for room in the backlog is ours, not the client's
                deadline = time.monotonic() + timeout
                continue
            try:
                message = parse_client_message(frame)
            except (ProtocolError, RecursionError, ValueError, TypeError) as exc:
                reason = str(exc) if isinstance(exc, ProtocolError) else "client message " \
                    "is not valid JSON"
                await self._abort(Fatal("UNPARSABLE_CLIENT_MESSAGE", reason, CLOSE_POLICY))
                return
            if isinstance(message, Configure):
                tame_numbers(message)
            await self.backlog.put(message, len(frame), message=True)
            if isinstance(message, KeepAlive):
                deadline = time.monotonic() + timeout
            if isinstance(message, CloseStream):
                return

    async def _abort(self, fatal: Fatal) -> None:
        """A fatal problem skips the audio still queued: the client hears about it at once."""
        self.aborting = True
        self.backlog.put_now(fatal)

    async def _work(self) -> None:
        from flux_cli.server.wire_audio import AudioDecodeError

        while True:
            item = await self.backlog.get()
            if isinstance(item, Disconnected):
                return
            if isinstance(item, Fatal):
                return await self._fail(item)
            if self.aborting:
                continue
            self._collect_interim()
            if isinstance(item, Frame):
                try:
                    audio = self.decoder.feed(item.data)
                except AudioDecodeError as exc:
                    return await self._fail(
                        Fatal("DATA-0000", f"cannot decode audio: {exc}", CLOSE_POLICY))
                await self._send(await self._feed(audio, item.arrived))
            elif isinstance(item, CloseStream):
                await self._close_stream()
                return
            else:
                held = self.decoder.release()  # the message meets the audio sent before it
                if len(held):
                    await self._send(await self._feed(held, time.monotonic()))
                await self._send(await self._timed(self.session.control, item))
            self._start_interim()

    async def _feed(self, audio: Any, arrived: float) -> list[ServerMessage]:
        """Decoded audio into the session, counted and timed; what it says back."""
        self.arrivals.add(len(audio), arrived)
        self.app.metrics.audio_seconds.inc(len(audio) / SAMPLE_RATE)
        self.session.phone_line = self.decoder.phone_line
        return await self._timed(self.session.feed, audio)

    async def _timed(self, step: Any, arg: Any) -> list[ServerMessage]:
        start = time.perf_counter()
        out: list[ServerMessage] = await asyncio.to_thread(step, arg)
        took = time.perf_counter() - start
        self.processing_s += took
        self.app.metrics.processing_seconds.inc(took)
        return out

    async def _close_stream(self) -> None:
        from flux_cli.server.wire_audio import AudioDecodeError

        messages: list[ServerMessage] = []
        try:
            rest = self.decoder.flush()
        except AudioDecodeError as exc:
            return await self._fail(
                Fatal("DATA-0000", f"cannot decode audio: {exc}", CLOSE_POLICY))
        if len(rest):
            messages += await self._feed(rest, time.monotonic())
        messages += await self._timed(lambda _: self.session.close(), None)
        await self._send(messages)
        self.outcome = "completed"
        await self._close(CLOSE_NORMAL, "")

    async def _fail(self, fatal: Fatal) -> None:
        self.outcome = fatal.outcome
        await self._send([self.session.error(fatal.code, fatal.description)])
        await self._close(fatal.close_code, fatal.code)

    async def _close(self, code: int, reason: str) -> None:
        """Close, while dropping whatever the reader still queues: it must keep reading to
        see the client's answer to our close, so it must never wait for room in the backlog."""
        dropper = asyncio.create_task(self._drop_queued())
        try:
            await self.ws.close(code, reason)
        finally:
            dropper.cancel()

    async def _drop_queued(self) -> None:
        while True:
            self.backlog.drop_all()
            await self.backlog.get()

    async def _keepalive(self) -> None:
        """Ping every ``ping_interval_s``; a pong missing for ``ping_timeout_s`` ends the
        connection (1011), unless the reader stopped for the backlog meanwhile: then the
        pong is unread behind audio we have not taken, and that is our delay, not theirs."""
        interval, wait = self.app.limits.ping_interval_s, self.app.limits.ping_timeout_s
        while True:
            await asyncio.sleep(interval)
            pauses = self.backlog.pauses
            if self.backlog.paused:
                continue
            pong = await self.ws.ping()
            try:
                await asyncio.wait_for(pong, wait)
            except TimeoutError:
                if self.backlog.paused or self.backlog.pauses != pauses:
                    continue
                log.info("client %s did not answer a ping: connection closed",
                         self.session.request_id)
                self.outcome = "ping_timeout"
                await self.ws.close(CLOSE_ERROR, "keepalive ping timeout")
                return

    def _collect_interim(self) -> None:
        future, job = self._interim, self._interim_job
        if future is None or job is None or not future.done():
            return
        self._interim = self._interim_job = None
        if future.cancelled() or future.exception() is not None:
            return
        self.session.apply_interim(job, future.result())

    def _start_interim(self) -> None:
        """Interim text is for a listener who is live: decode it only when this stream has
        caught up with its audio (nothing queued), at most one at a time per connection and
        ``interim_limit`` across the server, so decisions always find a free core. The
        session says when one is due, in audio time."""
        if self._interim is not None or len(self.backlog):
            return
        if self.app.interim_running >= self.app.interim_limit:
            return
        job = self.session.interim_job()
        if job is None:
            return
        self.app.interim_running += 1
        self._interim_job = job
        self._interim = asyncio.ensure_future(asyncio.to_thread(job.run))
        self._interim.add_done_callback(self._interim_finished)

    def _interim_finished(self, future: asyncio.Future[Transcript]) -> None:
        """Free the server-wide slot, even when the connection has gone."""
        self.app.interim_running -= 1
        # a failed interim decode only costs an Update's freshness; never log it as unhandled
        if not future.cancelled():
            future.exception()

    async def _send(self, messages: list[ServerMessage]) -> None:
        for message in messages:
            try:
                await asyncio.wait_for(self.ws.send(dumps(message)),
                                       self.app.limits.send_timeout_s)
            except TimeoutError:
                raise SlowClient() from None
            if isinstance(message, TurnInfo) and message.event == "EndOfTurn":
                self._time_end_of_turn(message)

    def _time_end_of_turn(self, message: TurnInfo) -> None:
        last = message.words[-1].end if message.words else None
        speech_end = message.audio_window_end if last is None else last
        arrived = self.arrivals.arrival_of(speech_end)
        if arrived is not None:
            self.app.metrics.end_of_turn_delay.observe(max(0.0, time.monotonic() - arrived))
