"""Several streams at once: each ``client.Session`` in a worker thread, its news on the main thread.

``client.Session`` calls its listener from the thread that runs it; here that is a worker,
so the listener is a relay that puts each call on one queue, and the main thread (the only
one that may touch outputs and Rich) takes them off and hands them to the stream's real
listener. Ctrl-C reaches the main thread: it stops every feed at its next frame (each
session then sends CloseStream and receives the server's last messages as usual), waits up
to ``close_wait_s`` for them, and a second Ctrl-C leaves at once. Worker threads are
daemons, so leaving never waits for a stuck server.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from flux_cli.client.events import ConnectionInfo, Listener, Progress, Received, Reconnect
from flux_cli.client.feed import AudioFeed, Outcome
from flux_cli.client.shell import CLOSE_WAIT_S, Session
from flux_cli.errors import INTERRUPTED_EXIT_CODE, FluxError, redact

TICK_S = 0.1


@dataclass
class StreamJob:
    """One stream to run: where, what to send, and who hears about it (on the main thread)."""

    key: str
    url: str
    feed: AudioFeed
    listener: Listener
    api_key: str | None = field(default=None, repr=False)
    force_end_turn: bool = False
    reconnect: int = 0


@dataclass
class JobResult:
    """How a stream ended: an exit code (0, 130, or a FluxError's) and, if it failed, why."""

    code: int
    message: str | None = None


class _Relay:
    """The listener a worker's session sees: every call goes onto the shared queue."""

    def __init__(self, key: str, events: queue.Queue[tuple[str, str, Any]]) -> None:
        self.key = key
        self.events = events

    def on_connected(self, info: ConnectionInfo) -> None:
        self.events.put((self.key, "connected", info))

    def on_message(self, received: Received) -> None:
        self.events.put((self.key, "message", received))

    def on_progress(self, progress: Progress) -> None:
        self.events.put((self.key, "progress", progress))

    def on_reconnect(self, event: Reconnect) -> None:
        self.events.put((self.key, "reconnect", event))


def stoppable(frames: Iterator[bytes], stop: threading.Event) -> Iterator[bytes]:
    """The frames until ``stop`` is set: then the feed ends and the session closes the stream."""
    for frame in frames:
        if stop.is_set():
            return
        yield frame


def _result_of(outcome: Outcome, check: Callable[[Outcome], bool]) -> JobResult:
    try:
        interrupted = check(outcome)
    except FluxError as exc:
        return JobResult(exc.exit_code, exc.message)
    return JobResult(INTERRUPTED_EXIT_CODE if interrupted else 0)


class ParallelRun:
    """Run jobs, at most ``max_workers`` at a time; ``run()`` returns each job's result."""

    def __init__(
        self,
        jobs: Sequence[StreamJob],
        max_workers: int,
        *,
        check: Callable[[Outcome], bool],
        on_tick: Callable[[], None] | None = None,
        on_done: Callable[[str, JobResult], None] | None = None,
        close_wait_s: float = CLOSE_WAIT_S,
    ) -> None:
        self.jobs = list(jobs)
        self.max_workers = max(1, max_workers)
        self.check = check
        self.on_tick = on_tick
        self.on_done = on_done
        self.close_wait_s = close_wait_s
        self.stop = threading.Event()
        self.events: queue.Queue[tuple[str, str, Any]] = queue.Queue()
        self._pending: queue.Queue[StreamJob] = queue.Queue()
        self._listeners = {job.key: job.listener for job in self.jobs}
        self._threads: list[threading.Thread] = []
        for job in self.jobs:
            job.feed.frames = stoppable(job.feed.frames, self.stop)
            self._pending.put(job)

    def _worker(self) -> None:
        while not self.stop.is_set():
            try:
                job = self._pending.get_nowait()
            except queue.Empty:
                return
            relay = _Relay(job.key, self.events)
            session = Session(
                job.url,
                job.feed,
                relay,
                api_key=job.api_key,
                force_end_turn_at_close=job.force_end_turn,
                reconnect=job.reconnect,
            )
            try:
                outcome = session.run()
                self.events.put((job.key, "done", _result_of(outcome, self.check)))
            except FluxError as exc:
                message = redact(exc.message, [job.api_key])
                self.events.put((job.key, "done", JobResult(exc.exit_code, message)))
            except BaseException as exc:  # a bug: reported, and the other streams go on
                message = redact(f"unexpected {type(exc).__name__}: {exc}", [job.api_key])
                self.events.put((job.key, "done", JobResult(1, message)))

    def _dispatch(self, key: str, kind: str, payload: Any, results: dict[str, JobResult]) -> None:
        listener = self._listeners[key]
        if kind == "connected":
            listener.on_connected(payload)
        elif kind == "message":
            listener.on_message(payload)
        elif kind == "progress":
            listener.on_progress(payload)
        elif kind == "reconnect":
            listener.on_reconnect(payload)
        elif kind == "done":
            results[key] = payload
            if self.on_done is not None:
                self.on_done(key, payload)

    def _drain(self, results: dict[str, JobResult], deadline: float | None) -> None:
        """Dispatch events until every job is done; ``on_tick`` every ``TICK_S`` by the clock,
        also while events keep coming (several busy streams never leave the queue empty, and
        progress bars must move anyway)."""
        started = {job.key for job in self.jobs}
        next_tick = time.monotonic() + TICK_S
        while len(results) < len(started):
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                return
            if now >= next_tick:
                next_tick = now + TICK_S
                if self.on_tick is not None:
                    self.on_tick()
            try:
                key, kind, payload = self.events.get(timeout=max(0.0, next_tick - now))
            except queue.Empty:
                if self.stop.is_set() and self._pending.qsize() == 0 and not self._alive():
                    return
                continue
            self._dispatch(key, kind, payload, results)

    def _alive(self) -> bool:
        return any(t.is_alive() for t in self._threads)

    def run(self) -> dict[str, JobResult]:
        """Every job's result; a job Ctrl-C stopped, or never started, counts as interrupted."""
        results: dict[str, JobResult] = {}
        self._threads = [
            threading.Thread(target=self._worker, daemon=True, name=f"stream-{i}")
            for i in range(min(self.max_workers, len(self.jobs)))
        ]
        for thread in self._threads:
            thread.start()
        try:
            self._drain(results, None)
        except KeyboardInterrupt:
            self.stop.set()
            with contextlib.suppress(KeyboardInterrupt):  # twice: leave at once
                self._drain(results, time.monotonic() + self.close_wait_s)
            for job in self.jobs:
                results.setdefault(job.key, JobResult(INTERRUPTED_EXIT_CODE))
        return results
