"""The local ``/v2/listen`` server: handshake checks, then one TurnSession per connection.

Each connection has a reader (frames → an ordered queue) and a worker (queue → session →
messages). The worker runs the session in a thread so model calls never block the event loop,
and interim transcripts for ``Update``s are decoded in the background on snapshots, never
holding up a decision. Everything a connection does is inside one ``try``: a misbehaving
client gets an ``Error`` and a close, and nobody else notices.

Choices where the protocol leaves room (documented in README/docs):
- An empty binary frame is ignored (the live service asks clients never to send one).
- The idle timer (``idle_timeout_s``) is reset by audio frames and ``KeepAlive``; other
  control messages and WebSocket pings do not count as audio.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import http
import logging
import signal
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from flux_cli.errors import EngineUnavailable
from flux_cli.protocol import (
    LISTEN_PATH,
    ClientMessage,
    CloseStream,
    KeepAlive,
    ParamError,
    ProtocolError,
    ServerMessage,
    StreamParams,
    dumps,
    parse_client_message,
)
from flux_cli.server.detector import DEFAULT_CONFIG, DetectorConfig
from flux_cli.server.engine import Engine, Transcript
from flux_cli.server.session import InterimJob, TurnSession

if TYPE_CHECKING:
    from websockets.asyncio.server import Server, ServerConnection
    from websockets.http11 import Request, Response
    from websockets.typing import Subprotocol

log = logging.getLogger("flux_cli.server")

INSTALL_HINT = "pip install 'flux-cli[local]'"
CLOSE_NORMAL = 1000
CLOSE_POLICY = 1008  # the client broke the protocol (unparsable message, undecodable audio)
CLOSE_ERROR = 1011  # our side gave up (idle timeout, internal error)
INTERIM_MIN_GAP_S = 0.1


def require_websockets() -> None:
    """The ``[local]`` extra brings websockets; say how to get it instead of a traceback."""
    try:
        import websockets  # noqa: F401
    except ImportError:
        raise EngineUnavailable(
            f"the local engine needs the websockets package: {INSTALL_HINT}"
        ) from None


# --------------------------------------------------------------------------- handshake


@dataclass
class _Accepted:
    """What the handshake learnt about a connection, for its handler."""

    request_id: str
    params: StreamParams
    decoder: Any


def _header_safe(text: str) -> str:
    """Header values must be one line of printable ASCII."""
    return "".join(ch if 32 <= ord(ch) < 127 else "?" for ch in text)[:300]


def _offered_subprotocols(request: Request) -> list[str]:
    values = request.headers.get_all("Sec-WebSocket-Protocol")
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def _authorised(request: Request, api_key: str) -> bool:
    """``Authorization: Token KEY`` (or Bearer), or the browser form: subprotocol ``token, KEY``."""
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
        idle_timeout_s: float = 10.0,
        detector: DetectorConfig = DEFAULT_CONFIG,
        max_interim_decodes: int = 1,
    ) -> None:
        self.engine = engine
        self.api_key = api_key
        self.idle_timeout_s = idle_timeout_s
        self.detector = detector
        self._accepted: dict[int, _Accepted] = {}
        self._request_ids: dict[int, str] = {}
        # Interim (Update-text) decodes in flight across all connections. Decision decodes
        # never wait for this; capping the interim ones keeps a core free for them.
        self.interim_running = 0
        self.interim_limit = max_interim_decodes

    def process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        """Path, credentials, then query: 404, 401 or 400 before any WebSocket exists."""
        from flux_cli.server.wire_audio import AudioDecodeError, make_decoder

        request_id = str(uuid.uuid4())
        self._request_ids[id(connection)] = request_id
        url = urlsplit(request.path)
        if url.path != LISTEN_PATH:
            return _reject(connection, http.HTTPStatus.NOT_FOUND, f"no such path: {url.path}")
        if self.api_key is not None and not _authorised(request, self.api_key):
            return _reject(connection, http.HTTPStatus.UNAUTHORIZED, "invalid credentials")
        try:
            params = StreamParams.from_query(url.query)
            decoder = make_decoder(params.encoding, params.sample_rate)
        except (ParamError, AudioDecodeError, ValueError) as exc:
            return _reject(connection, http.HTTPStatus.BAD_REQUEST, str(exc))
        self._accepted[id(connection)] = _Accepted(request_id, params, decoder)
        return None

    def process_response(
        self, connection: ServerConnection, request: Request, response: Response
    ) -> None:
        """Every handshake answer, accepted or not, carries ``dg-request-id``."""
        request_id = self._request_ids.pop(id(connection), None) or str(uuid.uuid4())
        response.headers["dg-request-id"] = request_id
        if response.status_code != http.HTTPStatus.SWITCHING_PROTOCOLS:
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
        await _Connection(self, connection, accepted).run()


# --------------------------------------------------------------------------- per connection


@dataclass
class _Fatal:
    code: str
    description: str
    close_code: int


class _Disconnected:
    """The client went away: stop quietly."""


_QueueItem = bytes | ClientMessage | _Fatal | _Disconnected


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
        self.queue: asyncio.Queue[_QueueItem] = asyncio.Queue()
        self.aborting = False
        self._interim: asyncio.Future[Transcript] | None = None
        self._interim_job: InterimJob | None = None
        self._interim_started = 0.0
        self._interim_next = 0.0

    async def run(self) -> None:
        from websockets.exceptions import ConnectionClosed

        reader = asyncio.create_task(self._read())
        try:
            await self._send(self.session.start())
            await self._work()
        except ConnectionClosed:
            log.info("client %s left", self.session.request_id)
        except Exception as exc:  # contained: this connection only
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

    async def _read(self) -> None:
        """Frames → queue, in order; stops at CloseStream, a fatal problem or a disconnect."""
        from websockets.exceptions import ConnectionClosed

        timeout = self.app.idle_timeout_s
        deadline = time.monotonic() + timeout
        while True:
            try:
                frame = await asyncio.wait_for(
                    self.ws.recv(), timeout=max(deadline - time.monotonic(), 0.0)
                )
            except TimeoutError:
                self._abort(_Fatal("NO_AUDIO_TIMEOUT",
                                   f"no audio received for {timeout:g} seconds", CLOSE_ERROR))
                return
            except ConnectionClosed:
                self.queue.put_nowait(_Disconnected())
                return
            if isinstance(frame, bytes):
                deadline = time.monotonic() + timeout
                if frame:  # an empty binary frame is ignored
                    self.queue.put_nowait(frame)
                continue
            try:
                message = parse_client_message(frame)
            except ProtocolError as exc:
                self._abort(_Fatal("UNPARSABLE_CLIENT_MESSAGE", str(exc), CLOSE_POLICY))
                return
            if isinstance(message, KeepAlive):
                deadline = time.monotonic() + timeout
            self.queue.put_nowait(message)
            if isinstance(message, CloseStream):
                return

    def _abort(self, fatal: _Fatal) -> None:
        """A fatal problem skips the audio still queued: the client hears about it at once."""
        self.aborting = True
        self.queue.put_nowait(fatal)

    async def _work(self) -> None:
        from flux_cli.server.wire_audio import AudioDecodeError

        while True:
            item = await self.queue.get()
            if isinstance(item, _Disconnected):
                return
            if isinstance(item, _Fatal):
                await self._send([self.session.error(item.code, item.description)])
                await self.ws.close(item.close_code, item.code)
                return
            if self.aborting:
                continue
            self._collect_interim()
            if isinstance(item, bytes):
                try:
                    audio = self.decoder.feed(item)
                except AudioDecodeError as exc:
                    self._abort(_Fatal("DATA-0000", f"cannot decode audio: {exc}", CLOSE_POLICY))
                    continue
                await self._send(await asyncio.to_thread(self.session.feed, audio))
            elif isinstance(item, CloseStream):
                await self._close_stream()
                return
            else:
                await self._send(await asyncio.to_thread(self.session.control, item))
            self._start_interim()

    async def _close_stream(self) -> None:
        from flux_cli.server.wire_audio import AudioDecodeError

        messages: list[ServerMessage] = []
        try:
            rest = self.decoder.flush()
        except AudioDecodeError as exc:
            self._abort(_Fatal("DATA-0000", f"cannot decode audio: {exc}", CLOSE_POLICY))
            return await self._work()
        if len(rest):
            messages += await asyncio.to_thread(self.session.feed, rest)
        messages += await asyncio.to_thread(self.session.close)
        await self._send(messages)
        await self.ws.close(CLOSE_NORMAL, "")

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
            await self.ws.send(dumps(message))


# --------------------------------------------------------------------------- entry points


def _load_engine() -> Engine:
    from flux_cli.server.loader import load_engine

    return load_engine()


async def serve(
    *,
    host: str = "127.0.0.1",
    port: int = 8765,
    api_key: str | None = None,
    idle_timeout_s: float = 10.0,
    engine: Engine | None = None,
    detector: DetectorConfig = DEFAULT_CONFIG,
) -> Server:
    """Start listening and return the running server (``async with`` it, or ``.close()``).

    ``port=0`` picks a free port: read it from :func:`server_port`. Without ``engine`` the
    real models are loaded first (in a thread).
    """
    require_websockets()
    from websockets.asyncio.server import serve as ws_serve

    if engine is None:
        engine = await asyncio.to_thread(_load_engine)
    app = ListenApp(engine, api_key=api_key, idle_timeout_s=idle_timeout_s, detector=detector)
    return await ws_serve(
        app.handle,
        host,
        port,
        process_request=app.process_request,
        process_response=app.process_response,
        select_subprotocol=app.select_subprotocol,
        max_size=2**24,
        ping_interval=20,
        ping_timeout=60,
    )


def server_port(server: Server) -> int:
    """The port a server started with ``port=0`` actually listens on."""
    for sock in server.sockets:
        return int(sock.getsockname()[1])
    raise RuntimeError("server has no listening socket")


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def run_server(
    host: str = "127.0.0.1",
    port: int = 8765,
    api_key: str | None = None,
    idle_timeout_s: float = 10.0,
    *,
    on_status: Callable[[str], None] | None = None,
) -> None:
    """``flux serve``: load the models, listen until Ctrl-C, then exit cleanly."""
    require_websockets()
    status = on_status or _stderr
    status("loading the local engine (Whisper tiny.en, Silero VAD, Smart Turn)…")
    engine = _load_engine()

    async def main() -> None:
        server = await serve(
            host=host, port=port, api_key=api_key, idle_timeout_s=idle_timeout_s, engine=engine
        )
        shown = server_port(server)
        status(f"listening on ws://{host}:{shown}{LISTEN_PATH} (Ctrl-C to stop)")
        # SIGTERM (a service manager, `kill`) stops as cleanly as Ctrl-C does.
        stop = asyncio.Event()
        # Not every platform or thread can take a signal handler; Ctrl-C still works there.
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        serving = asyncio.ensure_future(server.serve_forever())
        stopping = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait([serving, stopping], return_when=asyncio.FIRST_COMPLETED)
        finally:
            serving.cancel()
            stopping.cancel()
            server.close()
            await server.wait_closed()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
    status("server stopped")
