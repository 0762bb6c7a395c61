"""The client side of ``/v2/listen`` as a pure object: no sockets, no threads, no clock.

Audio frames and control calls go in, the frames to put on the wire come out
(``data_to_send``); server text frames go in (``receive``), parsed events come out. The same
object spans every connection of one stream, which is what makes a reconnect lose nothing:

- it keeps the audio since the last ``EndOfTurn``'s ``audio_window_end`` (bounded), because
  the server has not finished with it; after a drop that audio is sent again first;
- it keeps one audio timeline: a new connection counts from zero, so its times are shifted
  by where the re-sent audio starts and its turn indices by the turns already finished;
- it owns the close ordering (``ForceEndTurn`` then ``CloseStream``, once, nothing after).

``client.Session`` drives it with real sockets; tests drive it with literal inputs.
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass, replace
from enum import Enum
from typing import Any

from flux_cli import protocol
from flux_cli.protocol import (
    ClientMessage,
    Configure,
    ConfigureSuccess,
    ErrorMessage,
    ServerMessage,
    StreamParams,
    TurnInfo,
    Word,
)

DEFAULT_RESEND_LIMIT_S = 120.0
BACKOFF_FIRST_S = 0.5
BACKOFF_MAX_S = 8.0
# Close codes after which the same stream is worth resuming: no close frame at all (1006
# locally), a server error or restart (1011-1014). 1000/1005 before CloseStream is a server
# that chose to end the stream, and an Error message is final.
RESUMABLE_CLOSE_CODES = (1006, 1011, 1012, 1013, 1014)


def backoff_s(
    attempt: int, first_s: float = BACKOFF_FIRST_S, cap_s: float = BACKOFF_MAX_S
) -> float:
    """Wait before reconnect ``attempt`` (1, 2, ...): doubling from ``first_s``, bounded."""
    return min(cap_s, first_s * 2 ** (attempt - 1))


class Phase(Enum):
    CONNECTING = "connecting"  # no socket yet, or between connections
    STREAMING = "streaming"
    CLOSING = "closing"  # CloseStream sent on this connection; waiting for the server
    DONE = "done"


@dataclass(frozen=True, slots=True)
class SendAudio:
    """One binary frame; ``end_s`` is where it ends on the stream's audio timeline."""

    data: bytes
    end_s: float


@dataclass(frozen=True, slots=True)
class SendText:
    message: ClientMessage

    @property
    def text(self) -> str:
        return protocol.dumps(self.message)


Outgoing = SendAudio | SendText


@dataclass(frozen=True)
class Event:
    """A server frame, parsed, on the stream's timeline (``raw`` shifted to match).

    ``superseded``: an interim ``TurnInfo`` of a resumed connection that re-covers audio
    the stream had already reported on; showing it would move the timeline back, so the
    shell drops it (the ``ClientReconnect`` record says up to where).
    """

    raw: str
    message: ServerMessage | None
    problem: str | None = None
    superseded: bool = False


@dataclass(frozen=True)
class Resume:
    """What a new connection re-sends: where it starts, how much, and what could not be kept."""

    from_s: float
    resent_s: float
    turn_offset: int
    lost_s: float
    catch_up_to_s: float  # interim results before this point were already shown


class ClientCore:
    """One stream's protocol state across its connections. Not thread-safe: lock around it.

    ``bytes_per_second`` maps wire bytes to audio time; None (Ogg/Opus passed through) means
    times cannot be mapped back to bytes, so the stream cannot be resumed after a drop.
    """

    def __init__(
        self,
        bytes_per_second: float | None,
        *,
        sample_bytes: int = 2,
        force_end_turn: bool = False,
        params: StreamParams | None = None,
        resend_limit_s: float = DEFAULT_RESEND_LIMIT_S,
    ) -> None:
        self.bytes_per_second = bytes_per_second
        self.sample_bytes = sample_bytes
        self.force_end_turn_at_close = force_end_turn
        self.params = params or StreamParams()
        self.phase = Phase.CONNECTING
        self.connections = 0
        self.error: ErrorMessage | None = None
        self.input_done = False
        self.close_requested = False  # input ended or the user stopped: CloseStream is due
        self.frames_in = 0
        self._limit_bytes = (
            None if bytes_per_second is None else int(resend_limit_s * bytes_per_second)
        )
        self._total_bytes = 0  # every audio byte ever given to us
        self._timed_s = 0.0  # compressed audio: the end time its frames said last
        self._kept: deque[tuple[int, bytes]] = deque()  # (start byte, frame) after _kept_from
        self._kept_bytes = 0
        self._kept_from = 0  # byte where the last finished turn's audio window ended
        self._lost_bytes = 0  # dropped from the buffer since the last resume
        self._base_bytes = 0  # where this connection's audio starts on the timeline
        self._turn_offset = 0
        self._next_turn = 0  # first turn index not yet finished, on the stream's timeline
        self._reported_s = 0.0  # the furthest audio_window_end passed on
        self._catch_up_to_s = 0.0  # a resumed connection's interims before this are old news
        self._configured: Configure | None = None  # what the server confirmed, re-applied
        self._pending_configures: deque[Configure] = deque()
        self._out: list[Outgoing] = []

    # ------------------------------------------------------------------ timeline

    def _seconds(self, nbytes: int) -> float:
        return nbytes / self.bytes_per_second if self.bytes_per_second else 0.0

    @property
    def audio_s(self) -> float:
        """Audio given to the core so far, in seconds of the stream's timeline."""
        if self.bytes_per_second is None:
            return self._timed_s
        return self._seconds(self._total_bytes)

    @property
    def acknowledged_s(self) -> float:
        """The furthest ``audio_window_end`` the server has reported: audio it has taken in."""
        return self._reported_s

    @property
    def offset_s(self) -> float:
        """Where the current connection's second 0 is on the stream's timeline."""
        return self._seconds(self._base_bytes)

    @property
    def resumable(self) -> bool:
        return self.bytes_per_second is not None and self.error is None

    # ------------------------------------------------------------------ connections

    def connection_opened(self) -> Resume | None:
        """A new socket is open: queue what it must carry first. Returns the resume, if any."""
        self.connections += 1
        self.phase = Phase.STREAMING
        self._out.clear()
        self._pending_configures.clear()
        if self.connections == 1:
            return None
        if self._configured is not None:
            self._queue_text(self._configured)
        start = self._kept_from
        if self._kept and self._kept[0][0] > start:
            start = self._kept[0][0]
        resent = 0
        for frame_start, frame in self._kept:
            piece = frame[max(0, start - frame_start) :]
            if piece:
                resent += len(piece)
                self._out.append(SendAudio(piece, self._seconds(frame_start + len(frame))))
        resume = Resume(
            from_s=self._seconds(start),
            resent_s=self._seconds(resent),
            turn_offset=self._next_turn,
            lost_s=self._seconds(self._lost_bytes),
            catch_up_to_s=self._reported_s,
        )
        self._catch_up_to_s = self._reported_s
        self._base_bytes = start
        self._turn_offset = self._next_turn
        self._lost_bytes = 0
        if self.close_requested:
            self._queue_close()
        return resume

    def connection_lost(self) -> None:
        """The socket is gone; whatever was queued for it will be re-sent from the buffer."""
        if self.phase is not Phase.DONE:
            self.phase = Phase.CONNECTING
        self._out.clear()

    def should_resume(self, close_code: int | None, interrupted: bool) -> bool:
        """After a connection ended this way, is it worth reconnecting (a pure policy)?"""
        if interrupted or not self.resumable or self.phase is Phase.DONE:
            return False
        return close_code is None or close_code in RESUMABLE_CLOSE_CODES

    def finished(self) -> None:
        self.phase = Phase.DONE
        self._out.clear()

    # ------------------------------------------------------------------ audio and controls in

    def audio(self, frame: bytes, end_s: float | None = None) -> None:
        """A wire frame from the source: kept for a resume, queued if a socket is open.

        ``end_s``: where the frame ends in audio time, for compressed frames whose bytes do
        not map to time (an Ogg page's granule position); None keeps the last known end.
        """
        if not frame or self.close_requested or self.phase is Phase.DONE:
            return
        if end_s is not None:
            self._timed_s = end_s
        start = self._total_bytes
        self._total_bytes += len(frame)
        self.frames_in += 1
        if self._limit_bytes is not None:
            self._kept.append((start, frame))
            self._kept_bytes += len(frame)
            self._trim()
        if self.phase is Phase.STREAMING:
            self._out.append(SendAudio(frame, self.audio_s))

    def end_of_input(self) -> None:
        """The source is exhausted: close the stream (after ForceEndTurn if asked)."""
        self.input_done = True
        self._request_close()

    def stop(self) -> None:
        """The user stopped (Ctrl-C): no more audio, CloseStream now, no ForceEndTurn."""
        self.force_end_turn_at_close = False
        self._request_close()

    def force_end_turn(self) -> bool:
        """End the current turn now; False when there is no open stream to send it on."""
        if self.phase is not Phase.STREAMING or self.close_requested:
            return False
        self._queue_text(protocol.ForceEndTurn())
        return True

    def configure(
        self,
        thresholds: dict[str, float | int | None] | None = None,
        keyterms: list[str] | None = None,
        language_hints: list[str] | None = None,
    ) -> Configure | None:
        """Queue a ``Configure``, checked first as the server will (ParamError if wrong).

        None when there is no open stream to change (before connecting, or closing).
        """
        message = Configure(thresholds=thresholds, keyterms=keyterms, language_hints=language_hints)
        self.params.configured(message)
        if self.phase is not Phase.STREAMING or self.close_requested:
            return None
        self._pending_configures.append(message)
        self._queue_text(message)
        return message

    # ------------------------------------------------------------------ bytes out

    def data_to_send(self) -> list[Outgoing]:
        """Everything due on the wire, in order; the caller sends it on the current socket."""
        out, self._out = self._out, []
        return out

    # ------------------------------------------------------------------ events in

    def receive(self, text: str) -> Event:
        """Parse one server text frame and put it on the stream's timeline."""
        try:
            message: ServerMessage | None = protocol.parse_server_message(text)
        except protocol.ProtocolError as exc:
            return Event(text, None, str(exc))
        if isinstance(message, TurnInfo):
            if self._base_bytes or self._turn_offset:
                message, text = self._shifted(message, text)
            end = message.audio_window_end
            if end < self._catch_up_to_s:
                if message.event != "EndOfTurn":
                    return Event(text, message, superseded=True)
                # A turn the resumed connection ended while catching up: the stream had
                # already been transcribed further, so the record says so.
                message, text = self._stamped(message, text, self._catch_up_to_s)
            self._reported_s = max(self._reported_s, message.audio_window_end)
            if message.event == "EndOfTurn":
                self._turn_finished(message)
        elif isinstance(message, ErrorMessage):
            self.error = message
        elif isinstance(message, ConfigureSuccess):
            self._confirmed()
        elif isinstance(message, protocol.ConfigureFailure) and self._pending_configures:
            self._pending_configures.popleft()
        return Event(text, message)

    # ------------------------------------------------------------------ internals

    def _queue_text(self, message: ClientMessage) -> None:
        self._out.append(SendText(message))

    def _request_close(self) -> None:
        if self.close_requested:
            return
        self.close_requested = True
        if self.phase is Phase.STREAMING:
            self._queue_close()

    def _queue_close(self) -> None:
        if self.force_end_turn_at_close:
            self._queue_text(protocol.ForceEndTurn())
        self._queue_text(protocol.CloseStream())
        self.phase = Phase.CLOSING

    def _trim(self) -> None:
        """Drop kept audio the server has finished with, then whatever exceeds the bound."""
        while self._kept and self._kept[0][0] + len(self._kept[0][1]) <= self._kept_from:
            self._drop_oldest(lost=False)
        assert self._limit_bytes is not None
        while self._kept_bytes > self._limit_bytes and len(self._kept) > 1:
            self._drop_oldest(lost=True)

    def _drop_oldest(self, *, lost: bool) -> None:
        start, frame = self._kept.popleft()
        self._kept_bytes -= len(frame)
        if lost:
            self._lost_bytes += start + len(frame) - max(start, self._kept_from)
            self._kept_from = max(self._kept_from, start + len(frame))

    def _turn_finished(self, message: TurnInfo) -> None:
        self._next_turn = max(self._next_turn, message.turn_index + 1)
        if self.bytes_per_second is None:
            return
        end = int(message.audio_window_end * self.bytes_per_second)
        end -= end % self.sample_bytes
        self._kept_from = max(self._kept_from, min(end, self._total_bytes))
        if self._limit_bytes is not None:
            self._trim()

    def _confirmed(self) -> None:
        """Fold the confirmed Configure into what a new connection must be told again."""
        if not self._pending_configures:
            return
        done = self._pending_configures.popleft()
        self.params = self.params.configured(done)
        before = self._configured or Configure()
        thresholds = {**(before.thresholds or {}), **(done.thresholds or {})}
        self._configured = Configure(
            thresholds=thresholds or None,
            keyterms=done.keyterms if done.keyterms is not None else before.keyterms,
            language_hints=(
                done.language_hints if done.language_hints is not None else before.language_hints
            ),
        )

    def _shifted(self, message: TurnInfo, text: str) -> tuple[TurnInfo, str]:
        """A TurnInfo from a resumed connection, moved onto the stream's timeline."""
        offset, turns = self.offset_s, self._turn_offset
        words = [
            Word(
                w.word,
                w.confidence,
                None if w.start is None else w.start + offset,
                None if w.end is None else w.end + offset,
            )
            for w in message.words
        ]
        moved = replace(
            message,
            turn_index=message.turn_index + turns,
            audio_window_start=message.audio_window_start + offset,
            audio_window_end=message.audio_window_end + offset,
            words=words,
        )
        return moved, _shift_raw(text, offset, turns)

    @staticmethod
    def _stamped(message: TurnInfo, text: str, end_s: float) -> tuple[TurnInfo, str]:
        data: dict[str, Any] = json.loads(text)
        data["audio_window_end"] = round(end_s, 6)
        raw = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
        return replace(message, audio_window_end=end_s), raw


def _shift_raw(text: str, offset: float, turns: int) -> str:
    """The same JSON with its times and turn index moved (other fields and order kept)."""
    data: dict[str, Any] = json.loads(text)
    for key in ("audio_window_start", "audio_window_end"):
        if isinstance(data.get(key), int | float):
            data[key] = round(data[key] + offset, 6)
    if isinstance(data.get("turn_index"), int):
        data["turn_index"] += turns
    for word in data.get("words") or []:
        if isinstance(word, dict):
            for key in ("start", "end"):
                if isinstance(word.get(key), int | float):
                    word[key] = round(word[key] + offset, 6)
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))
