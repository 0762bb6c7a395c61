"""What the server sends: ``Connected``, ``TurnInfo``, ``Error``, ``Warning``, Configure replies.

Parsing is lenient where the protocol may grow (unknown types, events and triggers are kept)
and strict where a field we rely on is missing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from flux_cli.protocol.base import ProtocolError


@dataclass
class Word:
    word: str
    confidence: float
    start: float | None = None
    end: float | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"word": self.word, "confidence": round(self.confidence, 4)}
        if self.start is not None:
            out["start"] = round(self.start, 3)
        if self.end is not None:
            out["end"] = round(self.end, 3)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Word:
        start = data.get("start")
        end = data.get("end")
        return cls(
            word=str(data["word"]),
            confidence=float(data["confidence"]),
            start=None if start is None else float(start),
            end=None if end is None else float(end),
        )


@dataclass
class Connected:
    request_id: str
    sequence_id: int
    type: Literal["Connected"] = "Connected"

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "request_id": self.request_id, "sequence_id": self.sequence_id}


@dataclass
class TurnInfo:
    request_id: str
    sequence_id: int
    event: str
    turn_index: int
    audio_window_start: float
    audio_window_end: float
    transcript: str
    words: list[Word]
    end_of_turn_confidence: float
    trigger: str | None = None
    languages: list[str] | None = None  # detected (flux-general-multi)
    languages_hinted: list[str] | None = None  # the hints in force (flux-general-multi)
    type: Literal["TurnInfo"] = "TurnInfo"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": self.type,
            "request_id": self.request_id,
            "sequence_id": self.sequence_id,
            "event": self.event,
            "turn_index": self.turn_index,
            "audio_window_start": round(self.audio_window_start, 3),
            "audio_window_end": round(self.audio_window_end, 3),
            "transcript": self.transcript,
            "words": [word.to_dict() for word in self.words],
            "end_of_turn_confidence": round(self.end_of_turn_confidence, 4),
        }
        if self.trigger is not None:
            out["trigger"] = self.trigger
        if self.languages is not None:
            out["languages"] = list(self.languages)
        if self.languages_hinted is not None:
            out["languages_hinted"] = list(self.languages_hinted)
        return out


@dataclass
class _CodedMessage:
    """A server message that is a code and a description (``Error``, ``Warning``)."""

    sequence_id: int
    code: str
    description: str
    type: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "sequence_id": self.sequence_id,
            "code": self.code,
            "description": self.description,
        }


@dataclass
class ErrorMessage(_CodedMessage):
    """The fatal ``Error`` message; the socket closes after it."""

    type: Literal["Error"] = "Error"


@dataclass
class WarningMessage(_CodedMessage):
    """A non-fatal ``Warning`` (e.g. ``FORCE_END_TURN_NO_ACTIVE_TURN``)."""

    type: Literal["Warning"] = "Warning"


@dataclass
class ConfigureSuccess:
    """Answer to ``Configure``: the whole active configuration."""

    request_id: str
    sequence_id: int
    thresholds: dict[str, float | int | None]
    keyterms: list[str]
    language_hints: list[str] | None = None  # flux-general-multi only
    type: Literal["ConfigureSuccess"] = "ConfigureSuccess"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": self.type,
            "request_id": self.request_id,
            "sequence_id": self.sequence_id,
            "thresholds": dict(self.thresholds),
            "keyterms": list(self.keyterms),
        }
        if self.language_hints is not None:
            out["language_hints"] = list(self.language_hints)
        return out


@dataclass
class ConfigureFailure:
    """``Configure`` was refused; nothing changed."""

    request_id: str
    sequence_id: int
    code: str
    description: str
    type: Literal["ConfigureFailure"] = "ConfigureFailure"

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "request_id": self.request_id,
            "sequence_id": self.sequence_id,
            "code": self.code,
            "description": self.description,
        }


@dataclass
class UnknownMessage:
    """A message type this version does not know; kept whole so it can be shown and logged."""

    data: dict[str, Any]

    @property
    def type(self) -> str:
        return str(self.data.get("type", "?"))

    @property
    def sequence_id(self) -> int | None:
        value = self.data.get("sequence_id")
        return int(value) if isinstance(value, int | float) else None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.data)


ServerMessage = (
    Connected
    | TurnInfo
    | ErrorMessage
    | WarningMessage
    | ConfigureSuccess
    | ConfigureFailure
    | UnknownMessage
)


def _int(value: Any) -> int:
    return int(value)


def _strings(value: Any) -> list[str] | None:
    """An optional list of strings (absent or null: None)."""
    if value is None:
        return None
    if not isinstance(value, list):
        raise TypeError(f"expected a list, got {type(value).__name__}")
    return [str(item) for item in value]


def parse_server_message(text: str | bytes) -> ServerMessage:
    """Parse one server text frame.

    Unknown ``type`` values become UnknownMessage; unknown ``event`` or ``trigger`` values are
    kept as strings. Only a frame that is not a JSON object, or a known type missing a required
    field, raises ProtocolError.
    """
    try:
        data = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProtocolError(f"server sent a frame that is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ProtocolError("server sent JSON that is not an object")
    kind = data.get("type")
    try:
        if kind == "Connected":
            return Connected(
                request_id=str(data["request_id"]), sequence_id=_int(data["sequence_id"])
            )
        if kind == "TurnInfo":
            trigger = data.get("trigger")
            return TurnInfo(
                request_id=str(data.get("request_id", "")),
                sequence_id=_int(data["sequence_id"]),
                event=str(data["event"]),
                turn_index=_int(data["turn_index"]),
                audio_window_start=float(data["audio_window_start"]),
                audio_window_end=float(data["audio_window_end"]),
                transcript=str(data["transcript"]),
                words=[Word.from_dict(w) for w in data["words"]],
                end_of_turn_confidence=float(data["end_of_turn_confidence"]),
                trigger=None if trigger is None else str(trigger),
                languages=_strings(data.get("languages")),
                languages_hinted=_strings(data.get("languages_hinted")),
            )
        if kind == "Error":
            return ErrorMessage(
                sequence_id=_int(data.get("sequence_id", -1)),
                code=str(data.get("code", "UNKNOWN")),
                description=str(data.get("description", "")),
            )
        if kind == "Warning":
            return WarningMessage(
                sequence_id=_int(data.get("sequence_id", -1)),
                code=str(data.get("code", "UNKNOWN")),
                description=str(data.get("description", "")),
            )
        if kind == "ConfigureSuccess":
            return ConfigureSuccess(
                request_id=str(data.get("request_id", "")),
                sequence_id=_int(data.get("sequence_id", -1)),
                thresholds=dict(data.get("thresholds") or {}),
                keyterms=[str(k) for k in data.get("keyterms") or []],
                language_hints=_strings(data.get("language_hints")),
            )
        if kind == "ConfigureFailure":
            return ConfigureFailure(
                request_id=str(data.get("request_id", "")),
                sequence_id=_int(data.get("sequence_id", -1)),
                code=str(data.get("code", "UNKNOWN")),
                description=str(data.get("description", "")),
            )
    except (KeyError, TypeError, ValueError) as exc:
        raise ProtocolError(f"malformed {kind} message: {exc!r}") from None
    return UnknownMessage(data)
