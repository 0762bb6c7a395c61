"""A ``--jsonl`` log read back into what the run showed: turns, events, confidence over time.

Pure: lines in, a ``RunLog`` out. Turns come from ``render.state.apply``, the reducer that
drove the live panel, fed with the delay the panel showed: ``received_at`` minus
``audio_window_end_sent_at`` (see ``render.jsonl``). A log without send times (another
client's) gets no delays rather than guessed ones. Lines that are not JSON objects are
counted and skipped, so a log cut off mid-line (a killed run) still reads.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from flux_cli import protocol
from flux_cli.render import state as view
from flux_cli.render.jsonl import END_TYPE, REQUEST_TYPE, SENT_AT_FIELD
from flux_cli.render.state import Turn

RECONNECT_TYPE = "ClientReconnect"
TURN_MARK_EVENTS = ("StartOfTurn", "EagerEndOfTurn", "TurnResumed", "EndOfTurn")


@dataclass(frozen=True)
class TurnEvent:
    """A state change, at the audio time it was decided (``audio_window_end``)."""

    event: str
    turn_index: int
    at: float
    confidence: float
    trigger: str | None = None


@dataclass(frozen=True)
class RunLog:
    name: str
    turns: tuple[Turn, ...]
    events: tuple[TurnEvent, ...]
    confidence: tuple[tuple[float, float], ...]  # (audio_window_end, end_of_turn_confidence)
    params: dict[str, str] = field(default_factory=dict)
    request_id: str | None = None
    audio_sent_s: float | None = None
    audio_transcribed_s: float = 0.0
    messages: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    skipped_lines: int = 0
    has_send_times: bool = False
    notices: tuple[str, ...] = ()
    # ConfigureSuccess answers: (audio time, the thresholds in force from then on)
    threshold_changes: tuple[tuple[float, dict[str, float]], ...] = ()

    @property
    def audio_s(self) -> float:
        """The audio the run covered: what was sent if the log says, else what was transcribed."""
        return self.audio_sent_s if self.audio_sent_s is not None else self.audio_transcribed_s

    def threshold(self, name: str, default: float | None) -> float | None:
        value = self.params.get(name)
        try:
            return float(value) if value is not None else default
        except ValueError:
            return default

    @property
    def eot_threshold(self) -> float:
        """The threshold the run started with."""
        return self.threshold("eot_threshold", protocol.DEFAULT_EOT_THRESHOLD) or 0.0

    @property
    def eager_eot_threshold(self) -> float | None:
        return self.threshold("eager_eot_threshold", None)

    def threshold_steps(self, name: str) -> list[tuple[float, float | None]]:
        """``(from audio time, value)`` for a threshold, with every Configure change."""
        first = self.eot_threshold if name == "eot_threshold" else self.eager_eot_threshold
        steps: list[tuple[float, float | None]] = [(0.0, first)]
        for at, values in self.threshold_changes:
            if name in values and values[name] != steps[-1][1]:
                steps.append((at, values[name]))
        return steps


class LogError(ValueError):
    """The text holds no Flux server messages at all."""


def _records(lines: Iterable[str]) -> tuple[list[dict[str, Any]], int]:
    records: list[dict[str, Any]] = []
    skipped = 0
    for line in lines:
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except ValueError:
            skipped += 1
            continue
        if isinstance(data, dict):
            records.append(data)
        else:
            skipped += 1
    return records, skipped


def _delay(record: dict[str, Any]) -> float | None:
    sent_at, received_at = record.get(SENT_AT_FIELD), record.get("received_at")
    if isinstance(sent_at, int | float) and isinstance(received_at, int | float):
        return max(0.0, float(received_at) - float(sent_at))
    return None


def channels_in(lines: Iterable[str]) -> list[str]:
    """The channels a ``--multichannel`` log holds (empty for a one-stream log)."""
    records, _ = _records(lines)
    return sorted({str(r["channel"]) for r in records if "channel" in r})


def _pick_channel(
    records: list[dict[str, Any]], name: str, channel: str | None
) -> list[dict[str, Any]]:
    """A ``--multichannel`` log holds several streams: keep the one asked for."""
    channels = sorted({str(r["channel"]) for r in records if "channel" in r})
    if channel is None:
        if len(channels) > 1:
            raise LogError(
                f"{name} holds channels {', '.join(channels)}: pick one with --channel"
            )
        return records
    if channel not in channels:
        known = ", ".join(channels) or "none"
        raise LogError(f"{name} has no channel {channel!r} (channels: {known})")
    return [r for r in records if r.get("channel") == channel]


def read_log(lines: Iterable[str], name: str, channel: str | None = None) -> RunLog:
    """Fold a log's lines (one channel's, if it has several); LogError if nothing is Flux's."""
    records, skipped = _records(lines)
    records = _pick_channel(records, name, channel)
    reconnects = 0
    state = view.ViewState()
    events: list[TurnEvent] = []
    confidence: list[tuple[float, float]] = []
    params: dict[str, str] = {}
    audio_sent: float | None = None
    send_times = False
    changes: list[tuple[float, dict[str, float]]] = []
    for record in records:
        kind = record.get("type")
        if kind == REQUEST_TYPE:
            params = dict(parse_qsl(urlsplit(str(record.get("url", ""))).query))
            continue
        if kind == RECONNECT_TYPE:  # the client's own: its turns arrive already shifted
            reconnects += 1
            continue
        if kind == END_TYPE:
            value = record.get("audio_sent_s")
            audio_sent = float(value) if isinstance(value, int | float) else None
            continue
        if "unparsed" in record and kind is None:
            state = view.apply(state, None, problem="unparsable frame")
            continue
        try:
            message = protocol.parse_server_message(json.dumps(record))
        except protocol.ProtocolError as exc:
            state = view.apply(state, None, problem=str(exc))
            continue
        delay = _delay(record)
        send_times = send_times or delay is not None
        state = view.apply(state, message, server_delay_s=delay)
        if isinstance(message, protocol.TurnInfo):
            confidence.append((message.audio_window_end, message.end_of_turn_confidence))
            if message.event in TURN_MARK_EVENTS:
                events.append(
                    TurnEvent(
                        message.event,
                        message.turn_index,
                        message.audio_window_end,
                        message.end_of_turn_confidence,
                        message.trigger,
                    )
                )
        elif isinstance(message, protocol.ConfigureSuccess):
            values = {k: float(v) for k, v in message.thresholds.items() if v is not None}
            changes.append((state.audio_window_end, values))
    if state.messages == 0:
        raise LogError(f"{name}: no Flux server messages in it (is it a --jsonl log?)")
    state = view.finish(state)
    return RunLog(
        name=name,
        turns=state.turns,
        events=tuple(events),
        confidence=tuple(confidence),
        params=params,
        threshold_changes=tuple(changes),
        request_id=state.request_id,
        audio_sent_s=audio_sent,
        audio_transcribed_s=state.audio_window_end,
        messages=state.messages,
        counts=dict(state.counts),
        skipped_lines=skipped,
        has_send_times=send_times,
        notices=tuple(f"{n.kind}: {n.text}" for n in state.notices)
        + ((f"the client reconnected {reconnects} time(s) during the run",) if reconnects else ()),
    )
