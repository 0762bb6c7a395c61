"""How many streams a server takes at once, counted across every worker process.

A stream's slot is taken in the handshake (so the 429 comes before any WebSocket exists) and
given back when its TCP connection closes, whatever happened in between. With several
workers the counts live in shared memory made before the fork, so ``--max-streams`` is one
limit for the whole port, and any worker can answer ``/readyz`` and ``/v1/status`` for all.

Defaults, from ``python -m benchmarks.load --workers 1,2 --levels 1,12,14,16 --clip-seconds 45``
on the 2-core AVX-512 VNNI machine the project then ran on (benchmarks/results/load.md then;
history/ keeps those runs): one worker held 14 real-time streams with end-of-turn p50 and p90
within 1.25x of one stream's (1.11x / 1.14x) and 16 did not (p90 1.27x); two workers held 12
(14: p50 1.27x) at twice the memory. So ``STREAMS_PER_CORE`` is 6 (7 held: one stream of
headroom per core; past it decodes queue and every stream slows, and a 429 a load balancer can
route elsewhere serves a caller better). On x86-64 without VNNI (AVX2 only) every model costs
1.5-1.9x (the exact int8 kernels, ``engine.models.cpu``), and one worker held 6 streams within
1.25x on 2 cores but 8 only in one run of two (benchmarks/results/load.md and
history/13-avx2-load-second-run.md): ``STREAMS_PER_CORE_AVX2`` is 3 there. One worker serves up
to ``CORES_PER_WORKER`` cores: its Python side (websocket, JSON, session, VAD) costs ~0.02-0.03
s per audio second a stream (benchmarks/results/engine_cost.md), so one interpreter keeps up
with the ~28 streams of 4 cores; on more cores, more workers (an estimate: only 2 cores were
measured).
"""

from __future__ import annotations

import math
import multiprocessing
import os
from dataclasses import dataclass
from typing import Any

from flux_cli.engine.models.cpu import exact_int8_needed

STREAMS_PER_CORE = 6
STREAMS_PER_CORE_AVX2 = 3  # x86-64 without VNNI: ONNX Runtime's exact, slower int8 kernels
CORES_PER_WORKER = 4

LOADING, READY, DRAINING, STOPPED = 0, 1, 2, 3
STATE_NAMES = {LOADING: "loading", READY: "ready", DRAINING: "draining", STOPPED: "stopped"}


def usable_cores() -> int:
    """Cores this process may run on (the affinity mask, as a container's cpuset sets it)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def default_max_streams(cores: int | None = None, slow_int8: bool | None = None) -> int:
    """Streams per usable core by the CPU's kind (``slow_int8``: x86-64 without VNNI; None:
    this machine's)."""
    if slow_int8 is None:
        slow_int8 = exact_int8_needed()
    per_core = STREAMS_PER_CORE_AVX2 if slow_int8 else STREAMS_PER_CORE
    return per_core * (cores or usable_cores())


def decodes_per_worker(workers: int, cores: int | None = None) -> int:
    """Whisper decodes one worker runs at once: one per core of its share of the cores
    (``FLUX_DECODES_PER_WORKER`` overrides it, for experiments)."""
    override = os.environ.get("FLUX_DECODES_PER_WORKER")
    if override and override.isdigit() and int(override) > 0:
        return int(override)
    return max(1, (cores or usable_cores()) // workers)


def default_workers(cores: int | None = None) -> int:
    """One worker per ``CORES_PER_WORKER`` usable cores (each decodes on its share of them)."""
    return max(1, math.ceil((cores or usable_cores()) / CORES_PER_WORKER))


@dataclass(frozen=True)
class WorkerView:
    index: int
    pid: int
    state: str
    active_streams: int


class StreamSlots:
    """Active-stream counts and states of ``workers`` workers, shared by fork.

    Created by the process that binds the port, before any worker exists; each worker then
    uses the row ``index`` it was given. Every update takes one lock, held for a few
    integer operations only.
    """

    def __init__(self, max_streams: int, workers: int = 1) -> None:
        ctx = multiprocessing.get_context("fork")
        self.max_streams = max_streams
        self.workers = workers
        self._lock = ctx.Lock()
        self._active: Any = ctx.RawArray("i", workers)
        self._state: Any = ctx.RawArray("i", workers)
        self._pid: Any = ctx.RawArray("i", workers)
        self.index = 0

    def bind_worker(self, index: int) -> None:
        """Called in a worker: which row is ours."""
        self.index = index
        with self._lock:
            self._pid[index] = os.getpid()
            self._active[index] = 0
            self._state[index] = LOADING

    def set_state(self, state: int) -> None:
        with self._lock:
            self._state[self.index] = state

    @property
    def state(self) -> int:
        return int(self._state[self.index])

    def try_take(self) -> bool:
        """Take one slot if the whole server is below ``max_streams``."""
        with self._lock:
            if sum(self._active) >= self.max_streams:
                return False
            self._active[self.index] += 1
            return True

    def give_back(self) -> None:
        with self._lock:
            self._active[self.index] = max(0, self._active[self.index] - 1)

    def total(self) -> int:
        with self._lock:
            return int(sum(self._active))

    def mine(self) -> int:
        return int(self._active[self.index])

    def has_room(self) -> bool:
        return self.total() < self.max_streams

    def view(self) -> list[WorkerView]:
        with self._lock:
            return [
                WorkerView(i, int(self._pid[i]), STATE_NAMES.get(int(self._state[i]), "?"),
                           int(self._active[i]))
                for i in range(self.workers)
            ]

    def mark_stopped(self, index: int) -> None:
        """The parent's note that a worker has exited: its streams are gone with it."""
        with self._lock:
            self._active[index] = 0
            self._state[index] = STOPPED
