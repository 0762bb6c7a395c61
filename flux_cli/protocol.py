"""The Flux ``/v2/listen`` protocol: one definition of every message and parameter.

Both the client and the local server build on this module, so a message that one side
writes is, by construction, what the other side reads. Nothing here touches a socket.

Sources: ``shared/spec/listen-v2-asyncapi.md`` (the API as given) and
``shared/spec/PROTOCOL_NOTES.md`` (what the live service does beyond it).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, Literal
from urllib.parse import parse_qsl, urlencode

DEFAULT_URL = "wss://api.deepgram.com/v2/listen"
LISTEN_PATH = "/v2/listen"

MODELS = ("flux-general-en", "flux-general-multi")
MULTILINGUAL_MODEL = "flux-general-multi"
# flux-general-multi's languages; a locale tag (en-GB, pt-BR) maps to its base code.
LANGUAGES = ("en", "es", "fr", "de", "hi", "ru", "pt", "ja", "it", "nl")
# Deepgram's text-to-speech voices are named flux-{voice}-{lang} (e.g. flux-haley-en).
_SPEAK_VOICE = re.compile(r"flux-[a-z]+-[a-z]{2}")
RAW_ENCODINGS = ("linear16", "linear32", "mulaw", "alaw")
ENCODINGS = (*RAW_ENCODINGS, "opus", "ogg-opus")
SAMPLE_RATES = (8000, 16000, 24000, 44100, 48000)
EOT_THRESHOLD_RANGE = (0.5, 1.0)
EAGER_EOT_THRESHOLD_RANGE = (0.3, 0.9)
EOT_TIMEOUT_MS_RANGE = (500, 60000)
MAX_KEYTERMS = 100
DEFAULT_EOT_THRESHOLD = 0.7
DEFAULT_EOT_TIMEOUT_MS = 5000

TURN_EVENTS = ("Update", "StartOfTurn", "EagerEndOfTurn", "TurnResumed", "EndOfTurn")
EOT_TRIGGERS = ("model", "timeout", "manual")


class ProtocolError(ValueError):
    """A message or parameter that does not follow the protocol."""


class ParamError(ProtocolError):
    """A query parameter that is unknown or out of range (the live service answers 400)."""


# --------------------------------------------------------------------------- parameters


def _parse_bool(name: str, value: str) -> bool:
    if value == "true":
        return True
    if value == "false":
        return False
    raise ParamError(f"{name} must be true or false, got {value!r}")


def _parse_number(name: str, value: str, lo: float, hi: float) -> float:
    try:
        number = float(value)
    except ValueError:
        raise ParamError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(number) or not lo <= number <= hi:
        raise ParamError(f"{name} must be between {lo:g} and {hi:g}, got {value}")
    return number


@dataclass
class StreamParams:
    """The query parameters of one ``/v2/listen`` stream.

    ``encoding`` and ``sample_rate`` are ``None`` for containerised audio (WAV, Ogg),
    whose header tells the server what it is.
    """

    model: str = "flux-general-en"
    encoding: str | None = "linear16"
    sample_rate: int | None = 16000
    eot_threshold: float | None = None
    eager_eot_threshold: float | None = None
    eot_timeout_ms: int | None = None
    keyterm: list[str] = field(default_factory=list)
    mip_opt_out: bool | None = None
    tag: list[str] = field(default_factory=list)
    language_hint: list[str] = field(default_factory=list)

    KNOWN: ClassVar[tuple[str, ...]] = (
        "model",
        "encoding",
        "sample_rate",
        "eot_threshold",
        "eager_eot_threshold",
        "eot_timeout_ms",
        "keyterm",
        "mip_opt_out",
        "tag",
        "language_hint",
    )
    REPEATABLE: ClassVar[tuple[str, ...]] = ("keyterm", "tag", "language_hint")

    @property
    def effective_eot_threshold(self) -> float:
        return DEFAULT_EOT_THRESHOLD if self.eot_threshold is None else self.eot_threshold

    @property
    def effective_eot_timeout_ms(self) -> int:
        return DEFAULT_EOT_TIMEOUT_MS if self.eot_timeout_ms is None else self.eot_timeout_ms

    def validate(self) -> None:
        """Check the ranges the live service enforces; raise ParamError on the first bad one."""
        if self.model not in MODELS:
            if _SPEAK_VOICE.fullmatch(self.model):
                raise ParamError(
                    f"{self.model} is a text-to-speech voice (/v2/speak), not a listen model; "
                    f"use one of {', '.join(MODELS)}"
                )
            raise ParamError(f"model must be one of {', '.join(MODELS)}, got {self.model!r}")
        if self.encoding is not None and self.encoding not in ENCODINGS:
            raise ParamError(
                f"encoding must be one of {', '.join(ENCODINGS)}, got {self.encoding!r}"
            )
        if self.sample_rate is not None and self.sample_rate not in SAMPLE_RATES:
            raise ParamError(
                "sample_rate must be one of "
                f"{', '.join(map(str, SAMPLE_RATES))}, got {self.sample_rate}"
            )
        if self.encoding in RAW_ENCODINGS and self.sample_rate is None:
            raise ParamError(f"sample_rate is required with encoding={self.encoding}")
        validate_language_hints(self.language_hint, self.model, "language_hint")
        if self.eot_threshold is not None:
            _parse_number("eot_threshold", str(self.eot_threshold), *EOT_THRESHOLD_RANGE)
        if self.eager_eot_threshold is not None:
            _parse_number(
                "eager_eot_threshold", str(self.eager_eot_threshold), *EAGER_EOT_THRESHOLD_RANGE
            )
            if self.eager_eot_threshold > self.effective_eot_threshold:
                raise ParamError(
                    f"eager_eot_threshold ({self.eager_eot_threshold:g}) must not exceed "
                    f"eot_threshold ({self.effective_eot_threshold:g})"
                )
        if self.eot_timeout_ms is not None:
            _parse_number("eot_timeout_ms", str(self.eot_timeout_ms), *EOT_TIMEOUT_MS_RANGE)
        if len(self.keyterm) > MAX_KEYTERMS:
            raise ParamError(f"at most {MAX_KEYTERMS} keyterms, got {len(self.keyterm)}")
        if any(not term.strip() for term in self.keyterm):
            raise ParamError("keyterm must not be empty")

    def to_query(self) -> str:
        """The query string, in the live service's spelling (lowercase booleans, repeats)."""
        pairs: list[tuple[str, str]] = [("model", self.model)]
        if self.encoding is not None:
            pairs.append(("encoding", self.encoding))
        if self.sample_rate is not None:
            pairs.append(("sample_rate", str(self.sample_rate)))
        if self.eot_threshold is not None:
            pairs.append(("eot_threshold", f"{self.eot_threshold:g}"))
        if self.eager_eot_threshold is not None:
            pairs.append(("eager_eot_threshold", f"{self.eager_eot_threshold:g}"))
        if self.eot_timeout_ms is not None:
            pairs.append(("eot_timeout_ms", str(self.eot_timeout_ms)))
        pairs.extend(("keyterm", term) for term in self.keyterm)
        if self.mip_opt_out is not None:
            pairs.append(("mip_opt_out", "true" if self.mip_opt_out else "false"))
        pairs.extend(("tag", tag) for tag in self.tag)
        pairs.extend(("language_hint", hint) for hint in self.language_hint)
        return urlencode(pairs)

    def configured(self, message: Configure) -> StreamParams:
        """These parameters after ``message``, checked as the query string is (ParamError).

        One rule for both sides: the client checks a ``Configure`` before sending it, the
        server before applying it; on any error nothing changes.
        """
        params = replace(
            self,
            keyterm=list(self.keyterm),
            tag=list(self.tag),
            language_hint=list(self.language_hint),
        )
        for key, value in (message.thresholds or {}).items():
            if key not in THRESHOLD_KEYS:
                raise ParamError(f"unknown threshold {key!r}")
            if value is None and key == "eager_eot_threshold":
                params.eager_eot_threshold = None
                continue
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ParamError(f"{key} must be a number, got {value!r}")
            try:  # a 400-digit integer is valid JSON and overflows a float
                finite = math.isfinite(value)
            except OverflowError:
                finite = False
            if not finite:
                raise ParamError(f"{key} must be a finite number")
            if key == "eot_threshold":
                params.eot_threshold = float(value)
            elif key == "eager_eot_threshold":
                params.eager_eot_threshold = float(value)
            else:
                if float(value) != int(value):
                    raise ParamError("eot_timeout_ms must be a whole number")
                params.eot_timeout_ms = int(value)
        if message.keyterms is not None:
            params.keyterm = list(message.keyterms)
        if message.language_hints is not None:
            validate_language_hints(message.language_hints, self.model, "language_hints")
            params.language_hint = list(message.language_hints)
        params.validate()
        return params

    @classmethod
    def from_query(cls, query: str) -> StreamParams:
        """Parse and validate a query string as the live service would (ParamError = 400)."""
        params = cls(encoding=None, sample_rate=None)
        seen: set[str] = set()
        model_given = False
        for name, value in parse_qsl(query, keep_blank_values=True, strict_parsing=False):
            if name not in cls.KNOWN:
                raise ParamError(f"unknown query parameter {name!r}")
            if name in seen and name not in cls.REPEATABLE:
                raise ParamError(f"query parameter {name!r} given more than once")
            seen.add(name)
            if name == "model":
                params.model = value
                model_given = True
            elif name == "encoding":
                params.encoding = value
            elif name == "sample_rate":
                rate = _parse_number(name, value, 1, 10**6)
                params.sample_rate = int(rate) if rate.is_integer() else -1
            elif name == "eot_threshold":
                params.eot_threshold = _parse_number(name, value, *EOT_THRESHOLD_RANGE)
            elif name == "eager_eot_threshold":
                params.eager_eot_threshold = _parse_number(name, value, *EAGER_EOT_THRESHOLD_RANGE)
            elif name == "eot_timeout_ms":
                timeout = _parse_number(name, value, *EOT_TIMEOUT_MS_RANGE)
                params.eot_timeout_ms = int(timeout)
            elif name == "keyterm":
                params.keyterm.append(value)
            elif name == "mip_opt_out":
                params.mip_opt_out = _parse_bool(name, value)
            elif name == "tag":
                params.tag.append(value)
            elif name == "language_hint":
                params.language_hint.append(value)
        if not model_given:
            raise ParamError("model is required")
        if params.sample_rate is not None and params.encoding is None:
            raise ParamError("sample_rate needs encoding")
        params.validate()
        return params


def validate_language_hints(hints: list[str], model: str, name: str) -> None:
    """Hints only go with the multilingual model (else the live service answers 400)."""
    if not hints:
        return
    if model != MULTILINGUAL_MODEL:
        raise ParamError(f"{name} needs model={MULTILINGUAL_MODEL} (got model={model})")
    for hint in hints:
        base = hint.split("-", 1)[0].lower()
        if base not in LANGUAGES:
            raise ParamError(
                f"{name} {hint!r} is not a language of {MULTILINGUAL_MODEL} "
                f"({', '.join(LANGUAGES)}, or a locale such as en-GB)"
            )


# --------------------------------------------------------------------------- server messages


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
    type: Literal["ConfigureSuccess"] = "ConfigureSuccess"

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "request_id": self.request_id,
            "sequence_id": self.sequence_id,
            "thresholds": dict(self.thresholds),
            "keyterms": list(self.keyterms),
        }


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


# --------------------------------------------------------------------------- client messages


@dataclass
class CloseStream:
    type: Literal["CloseStream"] = "CloseStream"

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type}


@dataclass
class ForceEndTurn:
    type: Literal["ForceEndTurn"] = "ForceEndTurn"

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type}


@dataclass
class KeepAlive:
    """In the spec file; the live service rejects it. Our server treats it as a no-op."""

    type: Literal["KeepAlive"] = "KeepAlive"

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type}


@dataclass
class Finalize:
    """In the spec file; the live service rejects it. Our server treats it as ForceEndTurn."""

    type: Literal["Finalize"] = "Finalize"

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type}


THRESHOLD_KEYS = ("eot_threshold", "eager_eot_threshold", "eot_timeout_ms")


@dataclass
class Configure:
    """Mid-stream change of thresholds and/or keyterms, applied in order with the audio."""

    thresholds: dict[str, float | int | None] | None = None
    keyterms: list[str] | None = None
    language_hints: list[str] | None = None
    type: Literal["Configure"] = "Configure"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type}
        if self.thresholds is not None:
            out["thresholds"] = dict(self.thresholds)
        if self.keyterms is not None:
            out["keyterms"] = list(self.keyterms)
        if self.language_hints is not None:
            out["language_hints"] = list(self.language_hints)
        return out


ClientMessage = CloseStream | ForceEndTurn | KeepAlive | Finalize | Configure


def parse_client_message(text: str) -> ClientMessage:
    """Parse one client text frame; ProtocolError means ``UNPARSABLE_CLIENT_MESSAGE``.

    A ``Configure`` whose *values* are wrong still parses: the server answers it with
    ``ConfigureFailure`` rather than closing the stream.
    """
    try:
        data = json.loads(text)
    except ValueError:
        raise ProtocolError("client message is not valid JSON") from None
    if not isinstance(data, dict):
        raise ProtocolError("client message is not a JSON object")
    kind = data.get("type")
    if kind == "CloseStream":
        return CloseStream()
    if kind == "ForceEndTurn":
        return ForceEndTurn()
    if kind == "KeepAlive":
        return KeepAlive()
    if kind == "Finalize":
        return Finalize()
    if kind == "Configure":
        thresholds = data.get("thresholds")
        keyterms = data.get("keyterms")
        if thresholds is not None and not isinstance(thresholds, dict):
            raise ProtocolError("Configure.thresholds must be an object")
        if keyterms is not None and not (
            isinstance(keyterms, list) and all(isinstance(k, str) for k in keyterms)
        ):
            raise ProtocolError("Configure.keyterms must be a list of strings")
        hints = data.get("language_hints")
        if hints is not None and not (
            isinstance(hints, list) and all(isinstance(h, str) for h in hints)
        ):
            raise ProtocolError("Configure.language_hints must be a list of strings")
        return Configure(thresholds=thresholds, keyterms=keyterms, language_hints=hints)
    raise ProtocolError(f"unknown client message type {kind!r}")


def dumps(message: ServerMessage | ClientMessage) -> str:
    """Serialise any message to the compact JSON text frame that goes on the wire."""
    return json.dumps(message.to_dict(), separators=(",", ":"), ensure_ascii=False)
