"""The local ``/v2/listen`` server: handshake checks, then one TurnSession per connection.

Each connection has a reader (frames → a bounded, ordered queue) and a worker (queue →
session → messages). The worker runs the session in a thread so model calls never block the
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
  ``MAX_MESSAGE_BYTES`` is refused, at most ``QUEUE_FRAMES`` frames wait per connection (then
  TCP pushes back on the client), and a client that stops reading for ``send_timeout_s``
  while we have messages for it is cut off.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import hmac
import http
import logging
import math
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from flux_cli.errors import EngineUnavailable
from flux_cli.protocol import (
    LISTEN_PATH,
    ClientMessage,
    CloseStream,
    Configure,
    KeepAlive,
    ParamError,
    ProtocolError,
    ServerMessage,
    StreamParams,
    TurnInfo,
    dumps,
    parse_client_message,
)
from flux_cli.server.capacity import DRAINING, READY, StreamSlots, default_max_streams
from flux_cli.server.detector import DEFAULT_CONFIG, DetectorConfig
from flux_cli.server.endpoints import PATHS, ServerState, answer
from flux_cli.server.engine import SAMPLE_RATE, Engine, Transcript
from flux_cli.server.metrics import ServerMetrics, timed_engine
from flux_cli.server.session import InterimJob, TurnSession

if TYPE_CHECKING:
    import socket

    from websockets.asyncio.server import Server, ServerConnection
    from websockets.http11 import Request, Response
    from websockets.typing import Subprotocol

log = logging.getLogger("flux_cli.server")

INSTALL_HINT = "pip install 'flux-cli[local]'"
CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001  # the server is shutting down
CLOSE_POLICY = 1008  # the client broke the protocol (unparsable message, undecodable audio)
CLOSE_TOO_BIG = 1009
CLOSE_ERROR = 1011  # our side gave up (idle timeout, internal error)
INTERIM_MIN_GAP_S = 0.1
MAX_MESSAGE_BYTES = 1 << 20  # 1 MiB: 80 ms of the widest audio we take is 15 KB
HARD_MAX_MESSAGE_BYTES = 4 << 20  # above this websockets refuses the frame before reading it
QUEUE_FRAMES = 64  # about 5 s of 80 ms frames waiting for the session
ARRIVALS_KEPT = 4000  # frame arrival times kept per stream for the end-of-turn delay metric
MULTI_MODEL = "flux-general-multi"
CLOSE_TIMEOUT_S = 2.0  # for the client's answer to our close frame
SHUTDOWN_GRACE_S = 5.0  # for a cut stream's Error and close, at the end of a drain


def require_websockets() -> None:
    """The ``[local]`` extra brings websockets; say how to get it instead of a traceback."""
    try:
        import websockets  # noqa: F401
    except ImportError:
        raise EngineUnavailable(
            f"the local engine needs the websockets package: {INSTALL_HINT}"
        ) from None


@dataclass(frozen=True)
class Limits:
    """Per-connection bounds that protect the server from its clients."""

    idle_timeout_s: float = 10.0
    send_timeout_s: float = 10.0
    ping_interval_s: float = 20.0
    ping_timeout_s: float = 20.0


# --------------------------------------------------------------------------- handshake


@dataclass
class _Accepted:
    """What the handshake learnt about a connection, for its handler."""

    request_id: str
    params: StreamParams
    decoder: Any


class _Refusal(Exception):
    def __init__(self, status: http.HTTPStatus, reason: str, metric: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.metric = metric


def _header_safe(text: str) -> str:
    """Header values must be one line of printable ASCII."""
    return "".join(ch if 32 <= ord(ch) < 127 else "?" for ch in text)[:300]


def _offered_subprotocols(request: Request) -> list[str]:
    values = request.headers.get_all("Sec-WebSocket-Protocol")
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def _authorised(request: Request, api_key: str) -> bool:
    """``Authorization: Token KEY`` (or Bearer), or the browser form: subprotocol ``token, KEY``.

    ``hmac.compare_digest`` takes the same time wherever the first wrong byte is, so the
    answer's timing tells an attacker nothing about the key.
    """
    expected = api_key.encode()
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() in ("token", "bearer") and hmac.compare_digest(
        value.strip().encode(), expected
    ):
        return True
    offered = _offered_subprotocols(request)
    for i, name in enumerate(offered[:-1]):
        if name.lower() in ("token", "bearer") and hmac.compare_digest(
            offered[i + 1].encode(), expected
        ):
            return True
    return False


def language_refusal(query: str) -> str | None:
    """The live service's language rules, for an engine that only has English.

    ``flux-general-multi`` is a real model name, so it gets a 400 that says why; a
    ``language_hint`` with any model but ``flux-general-multi`` is a 400 there too.
    """
    pairs = parse_qsl(query, keep_blank_values=True)
    models = [v for k, v in pairs if k == "model"]
    hinted = any(k == "language_hint" for k, _ in pairs)
    if MULTI_MODEL in models:
        return ("this offline engine is English-only: model flux-general-multi is not "
                "available here (use model=flux-general-en)")
    if hinted and models:
        return f"language_hint is only accepted with model={MULTI_MODEL}, got model={models[0]}"
    return None


class _CredentialFilter(logging.Filter):
    """websockets logs every request header at DEBUG: never the credentials."""

    SECRET_HEADERS = ("authorization", "sec-websocket-protocol")

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 2 and isinstance(args[0], str) \
                and args[0].lower() in self.SECRET_HEADERS:
            record.args = (args[0], "***")
        return True


def _websockets_logger() -> logging.Logger:
    logger = logging.getLogger("flux_cli.server.websockets")
    if not any(isinstance(f, _CredentialFilter) for f in logger.filters):
        logger.addFilter(_CredentialFilter())
    return logger


def _reject(
    connection: ServerConnection, status: http.HTTPStatus, reason: str
) -> Response:
    response = connection.respond(status, f"{reason}\n")
    response.headers["dg-error"] = _header_safe(reason)
    return response


class ListenApp:
    """The websockets hooks and connection handler, over one shared engine."""

    def __init__(
        self,
        engine: Engine,
        *,
        api_key: str | None = None,
        limits: Limits = Limits(),
        detector: DetectorConfig = DEFAULT_CONFIG,
        max_interim_decodes: int = 1,
        slots: StreamSlots | None = None,
        metrics: ServerMetrics | None = None,
    ) -> None:
        self.metrics = metrics or ServerMetrics()
        self.engine = timed_engine(engine, self.metrics)
        self.api_key = api_key
        self.limits = limits
        self.detector = detector
        self.slots = slots or StreamSlots(default_max_streams())
        self.state = ServerState(self.slots, self.metrics)
        self._accepted: dict[int, _Accepted] = {}
        self._request_ids: dict[int, str] = {}
        self._holders: set[asyncio.Task[None]] = set()
        self.connections: set[_Connection] = set()
        # told when our own stream count changes (workers.py balances accepts with it)
        self.on_slots_changed: Callable[[], None] = lambda: None
        # Interim (Update-text) decodes in flight across all connections. Decision decodes
        # never wait for this; capping the interim ones keeps a core free for them.
        self.interim_running = 0
        self.interim_limit = max_interim_decodes

    def process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        """Endpoints; then path, drain, credentials, query, capacity: each refusal has a code."""
        url = urlsplit(request.path)
        if url.path in PATHS:
            return answer(self.state, url.path)
        request_id = str(uuid.uuid4())
        self._request_ids[id(connection)] = request_id
        try:
            accepted = self._admit(request, url.path, url.query, request_id)
        except _Refusal as refusal:
            self.metrics.refusals.labels(refusal.metric).inc()
            return _reject(connection, refusal.status, refusal.reason)
        self._accepted[id(connection)] = accepted
        return None

    def _admit(self, request: Request, path: str, query: str, request_id: str) -> _Accepted:
        from flux_cli.server.wire_audio import AudioDecodeError, make_decoder

        if path != LISTEN_PATH:
            raise _Refusal(http.HTTPStatus.NOT_FOUND, f"no such path: {path}", "not_found")
        if self.state.draining:
            raise _Refusal(http.HTTPStatus.SERVICE_UNAVAILABLE,
                           "the server is draining: not taking new streams", "draining")
        if self.state.loading:
            raise _Refusal(http.HTTPStatus.SERVICE_UNAVAILABLE, "the models are loading",
                           "loading")
        if self.api_key is not None and not _authorised(request, self.api_key):
            raise _Refusal(http.HTTPStatus.UNAUTHORIZED, "invalid credentials", "unauthorized")
        language = language_refusal(query)
        if language is not None:
            raise _Refusal(http.HTTPStatus.BAD_REQUEST, language, "bad_request")
        try:
            params = StreamParams.from_query(query)
            decoder = make_decoder(params.encoding, params.sample_rate)
        except (ParamError, AudioDecodeError, ValueError) as exc:
            raise _Refusal(http.HTTPStatus.BAD_REQUEST, str(exc), "bad_request") from None
        if not self.slots.try_take():
            self.on_slots_changed()
            raise _Refusal(
                http.HTTPStatus.TOO_MANY_REQUESTS,
                f"too many concurrent streams: this server takes {self.slots.max_streams}",
                "capacity")
        self.on_slots_changed()
        return _Accepted(request_id, params, decoder)

    def process_response(
        self, connection: ServerConnection, request: Request, response: Response
    ) -> None:
        """Every handshake answer carries ``dg-request-id``; an accepted one holds a slot."""
        request_id = self._request_ids.pop(id(connection), None)
        if request_id is None:  # an endpoint, not a stream
            return
        response.headers["dg-request-id"] = request_id
        if id(connection) not in self._accepted:
            return
        if response.status_code != http.HTTPStatus.SWITCHING_PROTOCOLS:
            self._accepted.pop(id(connection), None)
            self.slots.give_back()
            self.on_slots_changed()
            return
        holder = asyncio.ensure_future(self._hold_slot(connection))
        self._holders.add(holder)
        holder.add_done_callback(self._holders.discard)

    async def _hold_slot(self, connection: ServerConnection) -> None:
        """The slot is the TCP connection's: given back when it closes, however that happens."""
        self.metrics.active_streams.inc()
        try:
            await connection.wait_closed()
        finally:
            self.metrics.active_streams.dec()
            self.slots.give_back()
            self.on_slots_changed()
            self._accepted.pop(id(connection), None)

    @staticmethod
    def select_subprotocol(
        connection: ServerConnection, subprotocols: Sequence[Subprotocol]
    ) -> Subprotocol | None:
        """Echo ``token`` (or ``bearer``) when a browser client authenticated that way."""
        for name in subprotocols:
            if name.lower() in ("token", "bearer"):
                return name
        return None

    async def handle(self, connection: ServerConnection) -> None:
        accepted = self._accepted.pop(id(connection), None)
        if accepted is None:  # cannot happen: the handshake stored it
            await connection.close(CLOSE_ERROR, "internal error")
            return
        conn = _Connection(self, connection, accepted)
        self.connections.add(conn)
        try:
            await conn.run()
        finally:
            self.connections.discard(conn)

    # ------------------------------------------------------------------ drain

    def begin_drain(self) -> None:
        """``/readyz`` turns 503 and new streams are refused; open ones carry on."""
        self.slots.set_state(DRAINING)

    async def drain(self, timeout_s: float) -> int:
        """Wait up to ``timeout_s`` for open streams to end; then end the rest with an Error.

        Returns how many streams had to be cut.
        """
        self.begin_drain()
        deadline = time.monotonic() + timeout_s
        while self.connections and time.monotonic() < deadline:
            await asyncio.sleep(min(0.1, max(deadline - time.monotonic(), 0.0)))
        left = list(self.connections)
        if left:
            await asyncio.gather(*(c.shut_down(timeout_s) for c in left),
                                 return_exceptions=True)
        return len(left)


# --------------------------------------------------------------------------- per connection


@dataclass
class _Fatal:
    code: str
    description: str
    close_code: int
    outcome: str = "error"


class _Disconnected:
    """The client went away: stop quietly."""


@dataclass
class _Frame:
    data: bytes
    arrived: float  # monotonic


class _SlowClient(Exception):
    """The client has not read what we sent for ``send_timeout_s``."""


_QueueItem = _Frame | ClientMessage | _Fatal | _Disconnected


class _Arrivals:
    """When each received frame's audio arrived, to time end-of-turn decisions in wall time."""

    def __init__(self) -> None:
        self.ends: list[int] = []  # cumulative 16 kHz samples after each frame
        self.times: list[float] = []
        self.samples = 0

    def add(self, samples: int, arrived: float) -> None:
        self.samples += samples
        self.ends.append(self.samples)
        self.times.append(arrived)
        if len(self.ends) > 2 * ARRIVALS_KEPT:
            del self.ends[:ARRIVALS_KEPT], self.times[:ARRIVALS_KEPT]

    def arrival_of(self, audio_s: float) -> float | None:
        i = bisect.bisect_left(self.ends, int(audio_s * SAMPLE_RATE))
        return self.times[i] if self.ends and i < len(self.ends) else None


def _tame_numbers(message: Configure) -> None:
    """A JSON integer too big for a float is an infinite threshold, refused as one.

    Python's ``math.isfinite`` raises OverflowError on such an int instead of saying False.
    """
    if isinstance(message.thresholds, dict):
        for key, value in message.thresholds.items():
            if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 1e300:
                message.thresholds[key] = math.inf if value > 0 else -math.inf


class _Connection:
    def __init__(self, app: ListenApp, ws: ServerConnection, accepted: _Accepted) -> None:
        self.app = app
        self.ws = ws
        self.decoder = accepted.decoder
        self.session = TurnSession(
            vad=app.engine.vad.new_stream(),
            transcriber=app.engine.transcriber,
            end_of_turn=app.engine.end_of_turn,
            params=accepted.params,
            request_id=accepted.request_id,
            config=app.detector,
            sync_interim=False,
        )
        self.queue: asyncio.Queue[_QueueItem] = asyncio.Queue(QUEUE_FRAMES)
        self.aborting = False
        self.outcome = "disconnected"
        self.arrivals = _Arrivals()
        self.processing_s = 0.0
        self._interim: asyncio.Future[Transcript] | None = None
        self._interim_job: InterimJob | None = None
        self._interim_started = 0.0
        self._interim_next = 0.0
        self.finished = asyncio.Event()

    async def run(self) -> None:
        from websockets.exceptions import ConnectionClosed

        reader = asyncio.create_task(self._read())
        try:
            await self._send(self.session.start())
            await self._work()
        except ConnectionClosed:
            log.info("client %s left", self.session.request_id)
        except _SlowClient:
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
            reader.cancel()
            with contextlib.suppress(BaseException):
                await reader
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

    async def shut_down(self, drain_timeout_s: float) -> None:
        """The drain timeout has passed: an Error, a close, and the worker stops.

        The Error goes through the queue like any fatal problem, so it is numbered after
        every message already sent; a worker stuck past a few seconds is cut off.
        """
        fatal = _Fatal("SERVER_SHUTTING_DOWN",
                       f"the server is shutting down (drain timeout of {drain_timeout_s:g} s)",
                       CLOSE_GOING_AWAY, outcome="drained")
        self.aborting = True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.queue.put(fatal), SHUTDOWN_GRACE_S)
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
            await self._abort(_Fatal("INTERNAL_SERVER_ERROR", str(exc), CLOSE_ERROR))
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
                await self._abort(_Fatal("NO_AUDIO_TIMEOUT",
                                         f"no audio received for {timeout:g} seconds",
                                         CLOSE_ERROR))
                return
            except ConnectionClosed:
                await self.queue.put(_Disconnected())
                return
            if len(frame) > MAX_MESSAGE_BYTES:
                await self._abort(_Fatal(
                    "MESSAGE_TOO_BIG",
                    f"a message of {len(frame)} bytes is above the {MAX_MESSAGE_BYTES} limit",
                    CLOSE_TOO_BIG))
                return
            if isinstance(frame, bytes):
                if frame:  # an empty binary frame is ignored
                    await self.queue.put(_Frame(frame, time.monotonic()))
                # time spent waiting for room in the queue is ours, not the client's
                deadline = time.monotonic() + timeout
                continue
            try:
                message = parse_client_message(frame)
            except (ProtocolError, RecursionError, ValueError, TypeError) as exc:
                reason = str(exc) if isinstance(exc, ProtocolError) else "client message " \
                    "is not valid JSON"
                await self._abort(_Fatal("UNPARSABLE_CLIENT_MESSAGE", reason, CLOSE_POLICY))
                return
            if isinstance(message, Configure):
                _tame_numbers(message)
            await self.queue.put(message)
            if isinstance(message, KeepAlive):
                deadline = time.monotonic() + timeout
            if isinstance(message, CloseStream):
                return

    async def _abort(self, fatal: _Fatal) -> None:
        """A fatal problem skips the audio still queued: the client hears about it at once."""
        self.aborting = True
        await self.queue.put(fatal)

    async def _work(self) -> None:
        from flux_cli.server.wire_audio import AudioDecodeError

        while True:
            item = await self.queue.get()
            if isinstance(item, _Disconnected):
                return
            if isinstance(item, _Fatal):
                return await self._fail(item)
            if self.aborting:
                continue
            self._collect_interim()
            if isinstance(item, _Frame):
                try:
                    audio = self.decoder.feed(item.data)
                except AudioDecodeError as exc:
                    return await self._fail(
                        _Fatal("DATA-0000", f"cannot decode audio: {exc}", CLOSE_POLICY))
                self.arrivals.add(len(audio), item.arrived)
                self.app.metrics.audio_seconds.inc(len(audio) / SAMPLE_RATE)
                await self._send(await self._timed(self.session.feed, audio))
            elif isinstance(item, CloseStream):
                await self._close_stream()
                return
            else:
                await self._send(await self._timed(self.session.control, item))
            self._start_interim()

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
                _Fatal("DATA-0000", f"cannot decode audio: {exc}", CLOSE_POLICY))
        if len(rest):
            self.arrivals.add(len(rest), time.monotonic())
            self.app.metrics.audio_seconds.inc(len(rest) / SAMPLE_RATE)
            messages += await self._timed(self.session.feed, rest)
        messages += await self._timed(lambda _: self.session.close(), None)
        await self._send(messages)
        self.outcome = "completed"
        await self._close(CLOSE_NORMAL, "")

    async def _fail(self, fatal: _Fatal) -> None:
        self.outcome = fatal.outcome
        await self._send([self.session.error(fatal.code, fatal.description)])
        await self._close(fatal.close_code, fatal.code)

    async def _close(self, code: int, reason: str) -> None:
        """Close, while dropping whatever the reader still queues: it must keep reading to
        see the client's answer to our close, so it must never wait for room in the queue."""
        dropper = asyncio.create_task(self._drop_queued())
        try:
            await self.ws.close(code, reason)
        finally:
            dropper.cancel()

    async def _drop_queued(self) -> None:
        while True:
            await self.queue.get()

    def _collect_interim(self) -> None:
        future, job = self._interim, self._interim_job
        if future is None or job is None or not future.done():
            return
        self._interim = self._interim_job = None
        took = time.monotonic() - self._interim_started
        # adaptive cadence: the next pass waits at least as long as this one took
        self._interim_next = time.monotonic() + max(took, INTERIM_MIN_GAP_S)
        if future.cancelled() or future.exception() is not None:
            return
        self.session.apply_interim(job, future.result())

    def _start_interim(self) -> None:
        if self._interim is not None or time.monotonic() < self._interim_next:
            return
        if self.app.interim_running >= self.app.interim_limit:
            return
        job = self.session.interim_job()
        if job is None:
            return
        self.app.interim_running += 1
        self._interim_job = job
        self._interim_started = time.monotonic()
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
                raise _SlowClient() from None
            if isinstance(message, TurnInfo) and message.event == "EndOfTurn":
                self._time_end_of_turn(message)

    def _time_end_of_turn(self, message: TurnInfo) -> None:
        last = message.words[-1].end if message.words else None
        speech_end = message.audio_window_end if last is None else last
        arrived = self.arrivals.arrival_of(speech_end)
        if arrived is not None:
            self.app.metrics.end_of_turn_delay.observe(max(0.0, time.monotonic() - arrived))


# --------------------------------------------------------------------------- entry points


def _load_engine() -> Engine:
    from flux_cli.server.loader import load_engine

    return load_engine()


async def listen(
    app: ListenApp, *, host: str = "127.0.0.1", port: int = 0, sock: socket.socket | None = None
) -> Server:
    """Serve ``app`` on ``host:port``, or on an already bound (e.g. inherited) ``sock``."""
    require_websockets()
    from websockets.asyncio.server import serve as ws_serve

    where: dict[str, Any] = {"sock": sock} if sock is not None else {"host": host, "port": port}
    return await ws_serve(
        app.handle,
        process_request=app.process_request,
        process_response=app.process_response,
        select_subprotocol=app.select_subprotocol,
        max_size=HARD_MAX_MESSAGE_BYTES,
        max_queue=16,
        logger=_websockets_logger(),
        open_timeout=app.limits.idle_timeout_s,  # a connection that never sends its request
        # a client that broke the protocol while we were closing may never answer our close
        close_timeout=CLOSE_TIMEOUT_S,
        ping_interval=app.limits.ping_interval_s,
        ping_timeout=app.limits.ping_timeout_s,
        **where,
    )


async def serve(
    *,
    host: str = "127.0.0.1",
    port: int = 8765,
    api_key: str | None = None,
    idle_timeout_s: float = 10.0,
    engine: Engine | None = None,
    detector: DetectorConfig = DEFAULT_CONFIG,
    max_streams: int | None = None,
    send_timeout_s: float = 10.0,
    ping_interval_s: float = 20.0,
    ping_timeout_s: float = 20.0,
) -> Server:
    """Start listening and return the running server (``async with`` it, or ``.close()``).

    ``port=0`` picks a free port: read it from :func:`server_port`. Without ``engine`` the
    real models are loaded first (in a thread).
    """
    require_websockets()
    if engine is None:
        engine = await asyncio.to_thread(_load_engine)
    app = ListenApp(
        engine,
        api_key=api_key,
        limits=Limits(idle_timeout_s, send_timeout_s, ping_interval_s, ping_timeout_s),
        detector=detector,
        slots=StreamSlots(max_streams or default_max_streams()),
    )
    app.slots.set_state(READY)
    return await listen(app, host=host, port=port)


def server_port(server: Server) -> int:
    """The port a server started with ``port=0`` actually listens on."""
    for sock in server.sockets:
        return int(sock.getsockname()[1])
    raise RuntimeError("server has no listening socket")
