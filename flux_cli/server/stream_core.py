"""What one stream's connection handles, without sockets: its queue items, limits and clocks.

The asyncio shell (``connection.py``) moves these between the socket, the queue and the
engine; everything here is plain data and arithmetic, testable with literal inputs.
Nothing a client does can grow the server's memory without bound: a frame above
``MAX_MESSAGE_BYTES`` is refused, at most ``BACKLOG_BYTES`` of audio wait per connection
(then TCP pushes back on the client), and a client that stops reading for ``send_timeout_s``
while we have messages for it is cut off.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass

from flux_cli.engine.interfaces import SAMPLE_RATE
from flux_cli.protocol import ClientMessage, Configure
from flux_cli.server.options import IDLE_TIMEOUT_S

CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001  # the server is shutting down
CLOSE_POLICY = 1008  # the client broke the protocol (unparsable message, undecodable audio)
CLOSE_TOO_BIG = 1009
CLOSE_ERROR = 1011  # our side gave up (idle timeout, internal error)
MAX_MESSAGE_BYTES = 1 << 20  # 1 MiB: 80 ms of the widest audio we take is 15 KB
HARD_MAX_MESSAGE_BYTES = 4 << 20  # above this websockets refuses the frame before reading it
# Audio a connection holds for its session while still reading the socket (pings and
# control messages arrive behind it): 10 min of 16 kHz linear16, so a client sending a long
# file unpaced is read to the end; past this the reader waits and TCP pushes back.
BACKLOG_BYTES = 20 << 20
ARRIVALS_KEPT = 4000  # frame arrival times kept per stream for the end-of-turn delay metric
CLOSE_TIMEOUT_S = 2.0  # for the client's answer to our close frame
SHUTDOWN_GRACE_S = 5.0  # for a cut stream's Error and close, at the end of a drain


@dataclass(frozen=True)
class Limits:
    """Per-connection bounds that protect the server from its clients."""

    idle_timeout_s: float = IDLE_TIMEOUT_S
    send_timeout_s: float = 10.0
    ping_interval_s: float = 20.0
    ping_timeout_s: float = 20.0




DEFAULT_LIMITS = Limits()


@dataclass
class Fatal:
    code: str
    description: str
    close_code: int
    outcome: str = "error"


class Disconnected:
    """The client went away: stop quietly."""


@dataclass
class Frame:
    data: bytes
    arrived: float  # monotonic


class SlowClient(Exception):
    """The client has not read what we sent for ``send_timeout_s``."""


QueueItem = Frame | ClientMessage | Fatal | Disconnected


class Arrivals:
    """When each received frame's audio arrived, to time end-of-turn decisions in wall time."""

    def __init__(self) -> None:
        self.ends: list[int] = []  # cumulative 16 kHz samples after each frame
        self.times: list[float] = []
        self.samples = 0

    def add(self, samples: int, arrived: float) -> None:
        self.samples += samples
        self.ends.append(self.samples)
        self.times.append(arrived)
        if len(self.ends) > 2 * ARRIVALS_KEPT:
            del self.ends[:ARRIVALS_KEPT], self.times[:ARRIVALS_KEPT]

    def arrival_of(self, audio_s: float) -> float | None:
        i = bisect.bisect_left(self.ends, int(audio_s * SAMPLE_RATE))
        return self.times[i] if self.ends and i < len(self.ends) else None


def tame_numbers(message: Configure) -> None:
    """A JSON integer too big for a float is an infinite threshold, refused as one.

    Python's ``math.isfinite`` raises OverflowError on such an int instead of saying False.
    """
    if isinstance(message.thresholds, dict):
        for key, value in message.thresholds.items():
            if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 1e300:
                message.thresholds[key] = math.inf if value > 0 else -math.inf
