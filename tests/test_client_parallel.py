"""The parallel pool's main-thread loop: events are dispatched in order and the tick keeps its
pace even when the queue never goes quiet (three busy streams froze the progress bars)."""

from __future__ import annotations

import threading
import time

from flux_cli.client.events import ConnectionInfo, Progress, Received, Reconnect
from flux_cli.client.feed import AudioFeed
from flux_cli.client.parallel import JobResult, ParallelRun, StreamJob


class Counting:
    def __init__(self) -> None:
        self.progress = 0

    def on_connected(self, info: ConnectionInfo) -> None: ...

    def on_message(self, received: Received) -> None: ...

    def on_progress(self, progress: Progress) -> None:
        self.progress += 1

    def on_reconnect(self, event: Reconnect) -> None: ...


def test_ticks_keep_coming_while_events_never_stop() -> None:
    listener = Counting()
    job = StreamJob("a", "ws://127.0.0.1:9", AudioFeed(iter(()), 32000.0), listener)
    ticks: list[float] = []
    pool = ParallelRun([job], 1, check=lambda _: False, on_tick=lambda: ticks.append(0.0))

    def busy() -> None:  # an event every 5 ms for 0.6 s, then the end
        end = time.monotonic() + 0.6
        while time.monotonic() < end:
            pool.events.put(("a", "progress", Progress(1.0, False)))
            time.sleep(0.005)
        pool.events.put(("a", "done", JobResult(0)))

    producer = threading.Thread(target=busy)
    producer.start()
    results: dict[str, JobResult] = {}
    pool._drain(results, None)
    producer.join()
    assert results == {"a": JobResult(0)}
    assert listener.progress > 50
    assert len(ticks) >= 4  # about one per 0.1 s over 0.6 s, not zero
