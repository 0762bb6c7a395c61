"""The local ``/v2/listen`` server: endpoints and handshake, then one connection per stream.

Plain GETs of ``/healthz``, ``/readyz``, ``/v1/status`` and ``/metrics`` are answered in the
handshake hook (``endpoints.py``); capacity (429) and drain (503) are decided there too;
admission rules are in ``handshake.py``, a stream's life in ``connection.py``.
"""

from __future__ import annotations

import asyncio
import http
import time
import uuid
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from flux_cli.engine.detector import DEFAULT_CONFIG, DetectorConfig
from flux_cli.engine.interfaces import Engine
from flux_cli.errors import INSTALL_HINT, EngineUnavailable
from flux_cli.protocol import LISTEN_PATH, ParamError, StreamParams
from flux_cli.server.capacity import DRAINING, READY, StreamSlots, default_max_streams
from flux_cli.server.connection import Connection
from flux_cli.server.endpoints import PATHS, ServerState, answer, models_document, voice_mode
from flux_cli.server.handshake import (
    Accepted,
    Refusal,
    authorised,
    language_refusal,
    reject,
    websockets_logger,
)
from flux_cli.server.metrics import ServerMetrics, timed_engine
from flux_cli.server.options import IDLE_TIMEOUT_S
from flux_cli.server.stream_core import (
    CLOSE_ERROR,
    CLOSE_TIMEOUT_S,
    DEFAULT_LIMITS,
    HARD_MAX_MESSAGE_BYTES,
    Limits,
)

if TYPE_CHECKING:
    import socket

    from websockets.asyncio.server import Server, ServerConnection
    from websockets.http11 import Request, Response
    from websockets.typing import Subprotocol


def require_websockets() -> None:
    """The ``[local]`` extra brings websockets; say how to get it instead of a traceback."""
    try:
        import websockets  # noqa: F401
    except ImportError:
        raise EngineUnavailable(
            f"the local engine needs the websockets package: {INSTALL_HINT}"
        ) from None


class ListenApp:
    """The websockets hooks and connection handler, over one shared engine."""

    def __init__(
        self,
        engine: Engine,
        *,
        api_key: str | None = None,
        limits: Limits = DEFAULT_LIMITS,
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
        self.state = ServerState(self.slots, self.metrics, models=models_document(
            engine.asr, voice_change=voice_mode(engine)))
        self._accepted: dict[int, Accepted] = {}
        self._request_ids: dict[int, str] = {}
        self._holders: set[asyncio.Task[None]] = set()
        self.connections: set[Connection] = set()
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
        except Refusal as refusal:
            self.metrics.refusals.labels(refusal.metric).inc()
            return reject(connection, refusal.status, refusal.reason)
        self._accepted[id(connection)] = accepted
        return None

    def _admit(self, request: Request, path: str, query: str, request_id: str) -> Accepted:
        from flux_cli.server.wire_audio import AudioDecodeError, make_decoder

        if path != LISTEN_PATH:
            raise Refusal(http.HTTPStatus.NOT_FOUND, f"no such path: {path}", "not_found")
        if self.state.draining:
            raise Refusal(http.HTTPStatus.SERVICE_UNAVAILABLE,
                           "the server is draining: not taking new streams", "draining")
        if self.state.loading:
            raise Refusal(http.HTTPStatus.SERVICE_UNAVAILABLE, "the models are loading",
                           "loading")
        if self.api_key is not None and not authorised(request, self.api_key):
            raise Refusal(http.HTTPStatus.UNAUTHORIZED, "invalid credentials", "unauthorized")
        language = language_refusal(query, self.engine.asr.multilingual)
        if language is not None:
            raise Refusal(http.HTTPStatus.BAD_REQUEST, language, "bad_request")
        try:
            params = StreamParams.from_query(query)
            decoder = make_decoder(params.encoding, params.sample_rate)
        except (ParamError, AudioDecodeError, ValueError) as exc:
            raise Refusal(http.HTTPStatus.BAD_REQUEST, str(exc), "bad_request") from None
        if not self.slots.try_take():
            self.on_slots_changed()
            raise Refusal(
                http.HTTPStatus.TOO_MANY_REQUESTS,
                f"too many concurrent streams: this server takes {self.slots.max_streams}",
                "capacity")
        self.on_slots_changed()
        return Accepted(request_id, params, decoder)

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
        conn = Connection(self, connection, accepted)
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
        logger=websockets_logger(),
        open_timeout=app.limits.idle_timeout_s,  # a connection that never sends its request
        # a client that broke the protocol while we were closing may never answer our close
        close_timeout=CLOSE_TIMEOUT_S,
        # each connection pings for itself (connection.py): websockets' own keepalive would
        # time out a client whose pong waits unread behind audio the server has not taken
        ping_interval=None,
        **where,
    )


async def serve(
    *,
    host: str = "127.0.0.1",
    port: int = 8765,
    api_key: str | None = None,
    idle_timeout_s: float = IDLE_TIMEOUT_S,
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
        from flux_cli.engine.models.loader import load_engine

        engine = await asyncio.to_thread(load_engine)
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
