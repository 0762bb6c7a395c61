"""What a session sends and what it returns: the audio feed, the send log, the outcome.

Plain data shared by the shell, the runners and the parallel pool; no sockets here.
"""

from __future__ import annotations

import bisect
import threading
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from flux_cli.protocol import ErrorMessage


@dataclass
class AudioFeed:
    """Wire frames plus what the sender needs to know about them.

    ``bytes_per_second`` maps bytes to audio time (None for compressed audio, where the
    server delay cannot be measured); ``pace(index)`` blocks until frame ``index`` is due
    (None: send as fast as the source yields, e.g. a live pipe).
    """

    frames: Iterator[bytes]
    bytes_per_second: float | None
    pace: Callable[[int], None] | None = None
    sample_bytes: int = 2  # a re-sent turn starts on a whole sample
    # A file can wait while the stream reconnects; a live pipe cannot (its audio is kept
    # in the core's bounded re-send buffer meanwhile).
    can_wait: bool = False
    # Compressed frames: where a frame ends in audio time (None: not said by this frame).
    end_s: Callable[[bytes], float | None] | None = None


@dataclass
class Outcome:
    """How a session that was not refused or dropped ended."""

    close_code: int | None
    interrupted: bool = False
    error: ErrorMessage | None = None
    closed_early: bool = False
    reconnects: int = 0


@dataclass
class SendLog:
    """Audio end time and monotonic send time of recent frames, for the server delay.

    Only the last ``keep`` frames are held (10 minutes at 80 ms), in compact arrays, so an
    hour-long stream does not grow memory; a delay that far behind is not worth showing.
    """

    keep: int = 7500
    ends: array[float] = field(default_factory=lambda: array("d"))
    times: array[float] = field(default_factory=lambda: array("d"))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, audio_end_s: float, sent_at: float) -> None:
        with self.lock:
            self.ends.append(audio_end_s)
            self.times.append(sent_at)
            if len(self.ends) > 2 * self.keep:
                del self.ends[: -self.keep]
                del self.times[: -self.keep]

    def sent_at(self, audio_s: float) -> float | None:
        """Send time of the frame that holds ``audio_s`` (0.5 ms slack for rounding)."""
        with self.lock:
            index = bisect.bisect_left(self.ends, audio_s - 0.0005)
            if index >= len(self.ends) or (index == 0 and audio_s < self.ends[0] - 0.2):
                return None
            return self.times[index]

    @property
    def audio_s(self) -> float:
        with self.lock:
            return self.ends[-1] if self.ends else 0.0

    def forget_after(self, audio_s: float) -> None:
        """A resumed stream sends this audio again: keep the log sorted by audio time."""
        with self.lock:
            keep = bisect.bisect_right(self.ends, audio_s + 0.0005)
            del self.ends[keep:]
            del self.times[keep:]
