"""``flux serve`` as a service: check the flags, bind the port, load the models, serve, drain.

The order is the point: every flag is checked and the port is bound *before* the models
load, so a typo or a port in use costs a one-line error in milliseconds, not a traceback
after seconds of loading. Exit codes (README): 0 after a clean stop or a drain, 2 for a bad
flag, 4 when the address cannot be listened on, 6 when the engine cannot load, 128+signal
when a second signal cut a drain short.

Signals: the first SIGTERM or SIGINT starts a drain (``/readyz`` 503, new streams 503, open
streams run on for up to ``drain_timeout_s``, then each gets an ``Error`` and a close); a
second one stops at once. With ``workers > 1`` the work is in ``workers.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import math
import signal
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass

from flux_cli.errors import ConnectionFailed, EngineUnavailable, UsageError
from flux_cli.protocol import LISTEN_PATH
from flux_cli.server.capacity import READY, StreamSlots, default_max_streams, usable_cores

Status = Callable[[str], None]
BACKLOG = 512
LOADING_LINE = "loading the local engine (Whisper tiny.en, Silero VAD, Smart Turn)…"


@dataclass(frozen=True)
class ServeOptions:
    """``flux serve``'s flags; ``None`` means "derive from the machine"."""

    host: str = "127.0.0.1"
    port: int = 8765
    api_key: str | None = None
    idle_timeout_s: float = 10.0
    max_streams: int | None = None
    drain_timeout_s: float = 30.0
    workers: int | None = None
    send_timeout_s: float = 10.0

    def check(self) -> None:
        """Raise ``UsageError`` (exit 2) for the first flag out of range."""
        if not 0 <= self.port <= 65535:
            raise UsageError(f"--port must be between 0 and 65535, got {self.port}")
        for flag, value in (("--idle-timeout", self.idle_timeout_s),
                            ("--send-timeout", self.send_timeout_s)):
            if not (math.isfinite(value) and value > 0):
                raise UsageError(f"{flag} must be a number of seconds above 0, got {value:g}")
        if not (math.isfinite(self.drain_timeout_s) and self.drain_timeout_s >= 0):
            raise UsageError(
                f"--drain-timeout must be 0 or more seconds, got {self.drain_timeout_s:g}")
        if self.max_streams is not None and self.max_streams < 1:
            raise UsageError(f"--max-streams must be at least 1, got {self.max_streams}")
        if self.workers is not None and not 1 <= self.workers <= 256:
            raise UsageError(f"--workers must be between 1 and 256, got {self.workers}")

    @property
    def worker_count(self) -> int:
        return self.workers or usable_cores()

    @property
    def stream_limit(self) -> int:
        return self.max_streams or default_max_streams()


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket, or a one-line error: 2 for an unknown host, 4 otherwise."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                   flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError) as exc:
        raise UsageError(f"--host {host!r} is not an address of this machine ({exc})") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(BACKLOG)
    except OSError as exc:
        sock.close()
        reasons = {
            errno.EADDRINUSE: "the port is in use (is another server running there?)",
            errno.EACCES: "permission denied (ports below 1024 need privileges)",
            errno.EADDRNOTAVAIL: "the address is not one of this machine's",
        }
        reason = reasons.get(exc.errno or 0, exc.strerror or str(exc))
        raise ConnectionFailed(f"cannot listen on {host}:{port}: {reason}") from None
    sock.setblocking(False)
    return sock


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def listen_url(options: ServeOptions, sock: socket.socket) -> str:
    port = sock.getsockname()[1]
    host = f"[{options.host}]" if ":" in options.host else options.host
    return f"ws://{host}:{port}{LISTEN_PATH}"


def load_engine_or_fail(decodes_at_once: int = 2) -> object:
    """The engine; ``decodes_at_once`` Whisper decodes run in parallel in this process."""
    from flux_cli.server.loader import load_engine

    try:
        return load_engine(asr_workers=decodes_at_once)
    except EngineUnavailable:
        raise
    except (ImportError, OSError, RuntimeError, ValueError) as exc:
        raise EngineUnavailable(f"cannot load the local engine: {exc}") from None


def run_server(options: ServeOptions, *, on_status: Status | None = None) -> int:
    """``flux serve``: returns the process exit code."""
    from flux_cli.server.app import require_websockets

    status = on_status or _stderr
    options.check()
    require_websockets()
    sock = bind(options.host, options.port)
    if options.worker_count > 1:
        from flux_cli.server.workers import run_workers

        return run_workers(options, sock, status)
    status(LOADING_LINE)
    engine = load_engine_or_fail()
    slots = StreamSlots(options.stream_limit, 1)
    slots.bind_worker(0)
    code = asyncio.run(serve_until_stopped(options, sock, engine, slots, status,
                                           signals=(signal.SIGTERM, signal.SIGINT)))
    status("server stopped")
    return code


async def serve_until_stopped(
    options: ServeOptions,
    sock: socket.socket,
    engine: object,
    slots: StreamSlots,
    status: Status,
    *,
    signals: tuple[signal.Signals, ...],
    name: str = "",
    parent_pid: int | None = None,
) -> int:
    """Serve on ``sock`` until a signal; drain; a second signal stops at once.

    A worker (``parent_pid`` given) whose parent has vanished (killed with SIGKILL, say)
    stops at once too, rather than serve on as an orphan nobody supervises.
    """
    from flux_cli.server.app import Limits, ListenApp, listen
    from flux_cli.server.engine import Engine

    assert isinstance(engine, Engine)
    app = ListenApp(
        engine,
        api_key=options.api_key,
        limits=Limits(idle_timeout_s=options.idle_timeout_s,
                      send_timeout_s=options.send_timeout_s),
        slots=slots,
    )
    server = await listen(app, sock=sock)
    balancer = None
    if slots.workers > 1:
        from flux_cli.server.balance import AcceptBalancer

        balancer = AcceptBalancer(list(server.sockets), slots)
        if balancer.start():
            app.on_slots_changed = balancer.evaluate
    received: asyncio.Queue[signal.Signals] = asyncio.Queue()
    loop = asyncio.get_running_loop()
    for sig in signals:
        loop.add_signal_handler(sig, received.put_nowait, sig)
    watcher = None
    if parent_pid is not None:
        watcher = asyncio.ensure_future(_watch_parent(parent_pid, received))
    slots.set_state(READY)
    prefix = f"{name}: " if name else ""
    if not name:
        status(f"listening on {listen_url(options, sock)} "
               f"(max {slots.max_streams} streams; Ctrl-C or SIGTERM drains, twice stops)")
    else:
        status(f"{prefix}ready")
    await received.get()
    status(f"{prefix}draining: {len(app.connections)} open stream(s) may run for up to "
           f"{options.drain_timeout_s:g} s; signal again to stop at once")
    drain = asyncio.ensure_future(app.drain(options.drain_timeout_s))
    again = asyncio.ensure_future(received.get())
    await asyncio.wait([drain, again], return_when=asyncio.FIRST_COMPLETED)
    if again.done():
        drain.cancel()
        for conn in list(app.connections):
            conn.ws.transport.abort()
        status(f"{prefix}stopped at once: {len(app.connections)} stream(s) cut")
        return 128 + int(again.result())
    again.cancel()
    if balancer is not None:
        balancer.stop()
    if watcher is not None:
        watcher.cancel()
    cut = drain.result()
    if cut:
        status(f"{prefix}drain timeout: {cut} stream(s) ended with an Error")
    server.close()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(server.wait_closed(), 10.0)
    return 0


async def _watch_parent(parent_pid: int, received: asyncio.Queue[signal.Signals]) -> None:
    """Two SIGTERMs (stop at once) when the parent is gone: we are re-parented to init."""
    import os

    while os.getppid() == parent_pid:
        await asyncio.sleep(0.5)
    received.put_nowait(signal.SIGTERM)
    received.put_nowait(signal.SIGTERM)
