"""One serving process's life: load the engine, serve on a bound socket, drain, stop.

Signals: the first SIGTERM or SIGINT starts a drain (``/readyz`` 503, new streams 503, open
streams run on for up to ``drain_timeout_s``, then each gets an ``Error`` and a close); a
second one stops at once. The single-process server and every worker run this.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket

from flux_cli.server.capacity import READY, StreamSlots
from flux_cli.server.options import ServeOptions, Status, listen_url


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
    from flux_cli.engine.interfaces import Engine
    from flux_cli.server.app import Limits, ListenApp, listen

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
               f"(Whisper {engine.asr.name}{options.voice_note}; max {slots.max_streams} streams; "
               "Ctrl-C or SIGTERM drains, twice stops)")
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
