"""``flux serve --workers N``: one bound socket, N forked processes accepting on it.

Why pre-fork rather than SO_REUSEPORT: with one shared listening socket every idle worker
waits on it and the one that is free first takes the connection, so streams go to the least
busy process; SO_REUSEPORT hashes connections to workers whatever their load. The parent
binds, creates the shared stream counts (``capacity.StreamSlots``) and the metrics directory,
then forks: each worker loads its own models (nothing heavy is imported before the fork) and
serves. ``--max-streams``, ``/readyz``, ``/v1/status`` and ``/metrics`` are whole-server
figures whichever worker answers.

The parent only supervises: SIGTERM or SIGINT is passed on to every worker as SIGTERM (the
workers ignore SIGINT, so one Ctrl-C in a terminal is one signal, not two); a worker that
dies after it was ready is replaced; one that fails while loading stops the server with its
exit code.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import tempfile

from flux_cli.engine.models import loading_line
from flux_cli.errors import FluxError
from flux_cli.server.capacity import STOPPED, StreamSlots, decodes_per_worker
from flux_cli.server.lifetime import serve_until_stopped
from flux_cli.server.metrics import MULTIPROC_ENV, mark_worker_dead
from flux_cli.server.options import ServeOptions, Status, listen_url


def run_workers(options: ServeOptions, sock: socket.socket, status: Status) -> int:
    """Fork ``options.worker_count`` workers and supervise them until they have all exited."""
    count = options.worker_count
    own_dir = None
    if not os.environ.get(MULTIPROC_ENV):
        own_dir = tempfile.mkdtemp(prefix="flux-metrics-")
        os.environ[MULTIPROC_ENV] = own_dir
    slots = StreamSlots(options.stream_limit, count)
    status(loading_line(options.asr).replace(")…", f") in {count} workers…"))
    status(f"listening on {listen_url(options, sock)} "
           f"(Whisper {options.asr}{options.voice_note}; max {slots.max_streams} streams over "
           f"{count} workers; "
           "Ctrl-C or SIGTERM drains, twice stops)")
    pids: dict[int, int] = {}  # pid -> worker index
    for index in range(count):
        pids[_fork_worker(index, options, sock, slots, status)] = index
    stopping = False

    def forward(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        for pid in list(pids):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    code = 0
    try:
        while pids:
            pid, wait_status = os.waitpid(-1, 0)
            if pid not in pids:
                continue
            index = pids.pop(pid)
            was_loading = slots.view()[index].state == "loading"
            slots.mark_stopped(index)
            mark_worker_dead(pid)
            exit_code = os.waitstatus_to_exitcode(wait_status)
            if stopping:
                code = code or (exit_code if exit_code > 0 else 0)
                continue
            if was_loading:
                status(f"worker {index + 1} failed while loading (exit {exit_code}): stopping")
                forward(signal.SIGTERM, None)
                code = exit_code if exit_code > 0 else 1
                continue
            status(f"worker {index + 1} (pid {pid}) ended with {exit_code}: starting another")
            pids[_fork_worker(index, options, sock, slots, status)] = index
    finally:
        sock.close()
        if own_dir is not None:
            shutil.rmtree(own_dir, ignore_errors=True)
    status("server stopped")
    return code


def _fork_worker(index: int, options: ServeOptions, sock: socket.socket, slots: StreamSlots,
                 status: Status) -> int:
    slots.bind_worker(index)  # in the parent too, so the row reads "loading" from the start
    parent = os.getpid()
    pid = os.fork()
    if pid:
        return pid
    code = 1
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        code = _worker_main(index, options, sock, slots, status, parent)
    except FluxError as exc:
        status(f"flux: error: worker {index + 1}: {exc.message}")
        code = exc.exit_code
    except BaseException as exc:  # a worker never returns into the parent's code
        status(f"flux: error: worker {index + 1}: unexpected {type(exc).__name__}: {exc}")
        code = 1
    finally:
        os._exit(code)


def _worker_main(index: int, options: ServeOptions, sock: socket.socket, slots: StreamSlots,
                 status: Status, parent: int) -> int:
    slots.bind_worker(index)
    from flux_cli.engine.models.loader import load_engine

    engine = load_engine(asr=options.asr,
                         asr_workers=decodes_per_worker(options.worker_count),
                         voice_change=options.voice_change)
    code = asyncio.run(serve_until_stopped(
        options, sock, engine, slots, status, signals=(signal.SIGTERM,),
        name=f"worker {index + 1}/{options.worker_count} (pid {os.getpid()})",
        parent_pid=parent))
    slots.set_state(STOPPED)
    return code
