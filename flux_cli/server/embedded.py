"""The local server inside the client's process: ``flux transcribe --local`` with nothing to start.

The engine loads in the caller's thread, so a missing model raises ``EngineUnavailable``
where the CLI can map it to an exit code; only then does a daemon thread start its own event
loop and serve on a free loopback port.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from flux_cli.errors import EngineUnavailable
from flux_cli.protocol import LISTEN_PATH
from flux_cli.server.app import require_websockets, serve, server_port
from flux_cli.server.options import IDLE_TIMEOUT_S

if TYPE_CHECKING:
    from websockets.asyncio.server import Server

    from flux_cli.engine.interfaces import Engine

START_TIMEOUT_S = 30.0


class EmbeddedServer:
    """A running loopback server; ``url`` to connect, ``close()`` to stop it."""

    def __init__(
        self, engine: Engine, *, api_key: str | None = None, idle_timeout_s: float = IDLE_TIMEOUT_S
    ) -> None:
        self._engine = engine
        self._api_key = api_key
        self._idle_timeout_s = idle_timeout_s
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None
        self.port = 0
        self._thread = threading.Thread(target=self._run, name="flux-local-server", daemon=True)

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}{LISTEN_PATH}"

    def start(self) -> None:
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT_S):
            raise EngineUnavailable("the local engine did not start in time")
        if self._error is not None:
            raise EngineUnavailable(f"the local engine failed to start: {self._error}")

    def close(self) -> None:
        """Stop serving and join the thread; safe to call twice."""
        stop = self._stop
        if stop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(stop.set)
        self._thread.join(timeout=10.0)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._main())
        finally:
            self._ready.set()
            self._loop.close()

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        try:
            server: Server = await serve(
                host="127.0.0.1",
                port=0,
                api_key=self._api_key,
                idle_timeout_s=self._idle_timeout_s,
                engine=self._engine,
            )
        except Exception as exc:
            self._error = exc
            return
        self.port = server_port(server)
        self._ready.set()
        await self._stop.wait()
        server.close()
        await server.wait_closed()


def start_embedded_server(
    *, on_status: Callable[[str], None], asr: str = "tiny.en", voice_change: bool | None = None
) -> EmbeddedServer:
    """Load the engine here (errors raise ``EngineUnavailable``), then serve in the background.

    ``asr``: which Whisper (``whisper_models.MODELS``); ``voice_change``: where a new voice
    ends a turn (``load_engine``: None the call's voices, True also at pauses, False never).
    """
    require_websockets()
    from flux_cli.engine.models import loading_line
    from flux_cli.engine.models.loader import load_engine
    from flux_cli.engine.models.whisper_models import require_installed

    require_installed(asr)
    on_status(loading_line(asr))
    engine = load_engine(asr=asr, voice_change=voice_change)
    server = EmbeddedServer(engine)
    server.start()
    on_status(f"local engine ready at {server.url}")
    return server
