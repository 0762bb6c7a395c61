"""How many streams a server takes at once, counted across every worker process.

A stream's slot is taken in the handshake (so the 429 comes before any WebSocket exists) and
given back when its TCP connection closes, whatever happened in between. With several
workers the counts live in shared memory made before the fork, so ``--max-streams`` is one
limit for the whole port, and any worker can answer ``/readyz`` and ``/v1/status`` for all.

Default capacity: ``STREAMS_PER_CORE`` per usable core. Measured on the 2-core machine the
project runs on (``python -m benchmarks.load``, benchmarks/results/load.md), one real-time
stream costs about 0.2 of a core, and past 3 streams per core end-of-turn delays grow well
beyond 1.25x of one stream's as decodes queue; a 429 that a load balancer can route
elsewhere serves a caller better than a slow stream.
"""

from __future__ import annotations

import multiprocessing
import os
from dataclasses import dataclass
from typing import Any

STREAMS_PER_CORE = 3

LOADING, READY, DRAINING, STOPPED = 0, 1, 2, 3
STATE_NAMES = {LOADING: "loading", READY: "ready", DRAINING: "draining", STOPPED: "stopped"}


def usable_cores() -> int:
    """Cores this process may run on (the affinity mask, as a container's cpuset sets it)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def default_max_streams(cores: int | None = None) -> int:
    return STREAMS_PER_CORE * (cores or usable_cores())


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
