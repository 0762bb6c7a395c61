"""Keep streams even across workers that share one listening socket.

Measured (benchmarks/load.py): with every worker waiting on the shared socket, Linux hands
most new connections to the same process: 8 streams landed 7 + 1 on two workers, and the
busy one's delays doubled while the other core idled. So a worker that holds more streams
than the least busy ready worker stops watching the socket until the others catch up; the
least busy worker always accepts, so some worker always answers (health checks included).

asyncio has no public "pause accepting": this removes the listening socket's reader from
the selector and later puts back the very same callback. If the loop is not a selector loop
with that shape, balancing is off and the kernel decides, as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from flux_cli.server.capacity import DRAINING, READY, STATE_NAMES, StreamSlots

log = logging.getLogger("flux_cli.server")
CHECK_EVERY_S = 0.02
AFTER_ACCEPT_S = 0.005
STATE_READY = STATE_NAMES[READY]


class AcceptBalancer:
    def __init__(self, sockets: list[Any], slots: StreamSlots) -> None:
        self.loop = asyncio.get_running_loop()
        self.slots = slots
        self.fds = [s.fileno() for s in sockets]
        self.saved: dict[int, tuple[Any, tuple[Any, ...]]] = {}
        self.paused = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> bool:
        """Begin balancing; False (and nothing done) when the loop cannot be paused."""
        selector = getattr(self.loop, "_selector", None)
        if selector is None:
            return False
        for fd in self.fds:
            try:
                handle = selector.get_key(fd).data[0]
                callback, args = handle._callback, list(handle._args)
                # asyncio's accept callback is (factory, sock, ssl, server, backlog, ...):
                # accept one connection per turn, not a whole burst at once
                if len(args) < 5 or not isinstance(args[4], int):
                    return False
                args[4] = 1
            except (KeyError, AttributeError, IndexError, TypeError):
                return False
            self.saved[fd] = (self._accepting(callback), tuple(args))
        self.paused = True
        self._resume()  # re-register with the one-at-a-time callback
        self._task = asyncio.ensure_future(self._run())
        return True

    def _accepting(self, accept: Any) -> Any:
        """After each accept, step aside briefly so an idle worker can take the next one."""

        def accept_one(*args: Any) -> None:
            accept(*args)
            self._pause()
            self.loop.call_later(AFTER_ACCEPT_S, self.evaluate)

        return accept_one

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None
        self._resume()

    def should_pause(self) -> bool:
        """More streams here than in the least busy other worker that takes streams."""
        others = [w.active_streams for w in self.slots.view()
                  if w.index != self.slots.index and w.state == STATE_READY]
        return bool(others) and self.slots.mine() > min(others)

    def evaluate(self) -> None:
        """Pause or resume now (called on every change of our own count, and by a timer)."""
        if self.slots.state == DRAINING:
            self._resume()  # a draining worker answers 503 and health checks
        elif self.should_pause():
            self._pause()
        else:
            self._resume()

    async def _run(self) -> None:
        while True:
            self.evaluate()
            await asyncio.sleep(CHECK_EVERY_S)

    def _pause(self) -> None:
        if self.paused:
            return
        for fd in self.fds:
            self.loop.remove_reader(fd)
        self.paused = True

    def _resume(self) -> None:
        if not self.paused:
            return
        for fd, (callback, args) in self.saved.items():
            with contextlib.suppress(ValueError, OSError):
                self.loop.add_reader(fd, callback, *args)
        self.paused = False

