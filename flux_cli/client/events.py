"""What a streaming session reports to whoever shows it: plain dataclasses, no I/O.

Kept apart from ``client.py`` (the only module that imports websocket-client) so that the
renderers can take these events without pulling in the transport.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from flux_cli.protocol import ServerMessage


@dataclass(frozen=True)
class Received:
    """One server text frame as it arrived.

    ``message`` is None when the frame could not be parsed (``problem`` says why); the raw
    text is kept either way so a log can hold exactly what the server said. After a
    reconnect, ``raw`` carries times shifted onto the stream's one audio timeline.
    """

    raw: str
    message: ServerMessage | None
    received_at: float
    server_delay_s: float | None = None
    problem: str | None = None


@dataclass(frozen=True)
class ConnectionInfo:
    url: str
    host: str
    request_id: str | None


@dataclass(frozen=True)
class Progress:
    audio_sent_s: float
    input_done: bool


@dataclass(frozen=True)
class Reconnect:
    """The client lost the stream and is getting it back (``resumed`` False: still trying).

    ``resume_from_s`` is where the re-sent audio starts on the stream's timeline (the end of
    the last finished turn); times from the new connection are shifted by it, and its turn
    indices by ``turn_offset``. Interim results of the re-sent audio before ``catch_up_to_s``
    (already shown from the old connection) are not repeated, so nothing shown jumps back.
    """

    attempt: int
    max_attempts: int
    reason: str
    resumed: bool
    delay_s: float = 0.0
    resume_from_s: float = 0.0
    resent_s: float = 0.0
    turn_offset: int = 0
    lost_s: float = 0.0  # audio that did not fit the re-send buffer (said, never silent)
    catch_up_to_s: float = 0.0  # interim results before this were shown already: not repeated

    def to_dict(self) -> dict[str, Any]:
        """The JSONL line (the log adds ``received_at``): marked as the client's own."""
        return {
            "type": "ClientReconnect",
            "attempt": self.attempt,
            "reason": self.reason,
            "resume_from": round(self.resume_from_s, 3),
            "resent_s": round(self.resent_s, 3),
            "turn_offset": self.turn_offset,
            "lost_s": round(self.lost_s, 3),
            "catch_up_to": round(self.catch_up_to_s, 3),
        }

    def describe(self) -> str:
        if not self.resumed:
            return (
                f"{self.reason}; reconnecting in {self.delay_s:g} s "
                f"(attempt {self.attempt} of {self.max_attempts})"
            )
        text = (
            f"reconnected; re-sending {self.resent_s:.1f} s of audio from "
            f"{self.resume_from_s:.2f} s"
        )
        if self.lost_s > 0:
            text += f" ({self.lost_s:.1f} s did not fit the re-send buffer and is lost)"
        return text


class Listener(Protocol):
    """What the session reports to; every call happens on the session's main thread."""

    def on_connected(self, info: ConnectionInfo) -> None: ...

    def on_message(self, received: Received) -> None: ...

    def on_progress(self, progress: Progress) -> None: ...

    def on_reconnect(self, event: Reconnect) -> None: ...
