"""``flux serve`` as a service: check the flags, bind the port, load the models, serve, drain.

The order is the point (``options.py``): a bad flag or a busy port fails in milliseconds,
before the models load. Exit codes (README): 0 after a clean stop or a drain, 2 for a bad
flag, 4 when the address cannot be listened on, 6 when the engine cannot load, 128+signal
when a second signal cut a drain short. One process serves (``lifetime.py``), or with
``workers > 1`` several (``workers.py``).
"""

from __future__ import annotations

import asyncio
import signal
import sys

from flux_cli.engine.models import loading_line
from flux_cli.engine.models.whisper_models import require_installed
from flux_cli.server.capacity import StreamSlots, decodes_per_worker
from flux_cli.server.lifetime import serve_until_stopped
from flux_cli.server.logs import configure as configure_logging
from flux_cli.server.options import ServeOptions, Status, bind

__all__ = ["ServeOptions", "run_server"]


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def run_server(options: ServeOptions, *, on_status: Status | None = None) -> int:
    """``flux serve``: returns the process exit code."""
    from flux_cli.server.app import require_websockets

    status = on_status or _stderr
    options.check()
    configure_logging(options.log_level, options.log_format, [options.api_key or ""])
    require_websockets()
    require_installed(options.asr)  # a missing model package: exit 6 before binding
    sock = bind(options.host, options.port)
    if options.worker_count > 1:
        from flux_cli.server.workers import run_workers

        return run_workers(options, sock, status)
    status(loading_line(options.asr))
    from flux_cli.engine.models.loader import load_engine

    engine = load_engine(asr=options.asr, asr_workers=decodes_per_worker(1),
                         voice_change=options.voice_change)
    slots = StreamSlots(options.stream_limit, 1)
    slots.bind_worker(0)
    code = asyncio.run(serve_until_stopped(options, sock, engine, slots, status,
                                           signals=(signal.SIGTERM, signal.SIGINT)))
    status("server stopped")
    return code
