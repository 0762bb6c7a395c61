"""The FIFO between a connection's reader and its worker, bounded by audio bytes.

Reading must not stop while audio waits for the engine: a client's ping, pong or
``CloseStream`` arrives behind its audio on the same socket, and a reader that stops for a
full queue leaves them unread until the keepalive gives up (a client sending faster than
real time was cut with 1011). So the reader takes every frame at once and the backlog holds
up to ``max_bytes`` of what arrived (minutes of audio, not frames) and ``max_messages``
control messages (a client has no reason to queue more); only past that does the reader wait
and TCP push back. While it waits, ``paused`` says so: the client cannot answer a ping then,
and the keepalive must not count that against it. Our own items (a fatal problem, the end)
never wait.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Generic, TypeVar

T = TypeVar("T")


class Backlog(Generic[T]):
    """Items in arrival order; the reader waits only past ``max_bytes`` or ``max_messages``."""

    def __init__(self, max_bytes: int, max_messages: int = 64) -> None:
        self.max_bytes = max_bytes
        self.max_messages = max_messages
        self.bytes = 0  # bytes of what the client sent that wait
        self.messages = 0  # control messages that wait
        self.pauses = 0  # how many times the reader had to wait (the keepalive compares)
        self._items: deque[tuple[T, int, bool]] = deque()
        self._ready = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()

    @property
    def paused(self) -> bool:
        """The reader is waiting for room: nothing more is read from the socket."""
        return not self._room.is_set()

    def __len__(self) -> int:
        return len(self._items)

    def put_now(self, item: T) -> None:
        """Our own item (a fatal problem, the end of the stream): queued at once, never waits."""
        self._items.append((item, 0, False))
        self._ready.set()

    async def put(self, item: T, nbytes: int, *, message: bool = False) -> None:
        """What the client sent (audio, or a control ``message``): queued at once; then, above
        a bound, wait until the worker has caught up (half-way, so the reader does not flap)."""
        self._items.append((item, nbytes, message))
        self.bytes += nbytes
        self.messages += message
        self._ready.set()
        if self.bytes >= self.max_bytes or self.messages >= self.max_messages:
            self._room.clear()
            self.pauses += 1
            await self._room.wait()

    async def get(self) -> T:
        while not self._items:
            self._ready.clear()
            await self._ready.wait()
        item, nbytes, message = self._items.popleft()
        self.bytes -= nbytes
        self.messages -= message
        if self.bytes <= self.max_bytes // 2 and self.messages <= self.max_messages // 2:
            self._room.set()
        return item

    def drop_all(self) -> None:
        """Forget what is queued (the stream is closing) and let the reader go on reading."""
        self._items.clear()
        self.bytes = self.messages = 0
        self._room.set()
