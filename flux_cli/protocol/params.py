"""The query parameters of a stream, each declared once in ``PARAMS``.

The table drives parsing a query (server), writing one (client), checking ranges (both),
and which parameters a ``Configure`` may change mid-stream, so a new parameter is one row
here plus its field on ``StreamParams``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, ClassVar, Literal
from urllib.parse import parse_qsl, urlencode

from flux_cli.protocol.base import (
    DEFAULT_EOT_THRESHOLD,
    DEFAULT_EOT_TIMEOUT_MS,
    EAGER_EOT_THRESHOLD_RANGE,
    ENCODINGS,
    EOT_THRESHOLD_RANGE,
    EOT_TIMEOUT_MS_RANGE,
    LANGUAGES,
    MAX_KEYTERMS,
    MODELS,
    MULTILINGUAL_MODEL,
    RAW_ENCODINGS,
    SAMPLE_RATES,
    ParamError,
)

if TYPE_CHECKING:
    from flux_cli.protocol.client_messages import Configure

# Deepgram's text-to-speech voices are named flux-{voice}-{lang} (e.g. flux-haley-en).
_SPEAK_VOICE = re.compile(r"flux-[a-z]+-[a-z]{2}")
Kind = Literal["text", "rate", "number", "whole", "bool", "list"]


@dataclass(frozen=True)
class Param:
    """One query parameter: how its text is read and written, its range, how it changes live."""

    name: str
    kind: Kind
    bounds: tuple[float, float] | None = None
    live: str | None = None  # the Configure field that changes it mid-stream


PARAMS: tuple[Param, ...] = (
    Param("model", "text"),
    Param("encoding", "text"),
    Param("sample_rate", "rate"),
    Param("eot_threshold", "number", EOT_THRESHOLD_RANGE, live="thresholds"),
    Param("eager_eot_threshold", "number", EAGER_EOT_THRESHOLD_RANGE, live="thresholds"),
    Param("eot_timeout_ms", "whole", EOT_TIMEOUT_MS_RANGE, live="thresholds"),
    Param("keyterm", "list", live="keyterms"),
    Param("mip_opt_out", "bool"),
    Param("tag", "list"),
    Param("language_hint", "list", live="language_hints"),
)
_BY_NAME = {p.name: p for p in PARAMS}


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


def _read(param: Param, value: str) -> Any:
    """A query value as the live service reads it (ParamError = 400)."""
    if param.kind == "rate":
        rate = _parse_number(param.name, value, 1, 10**6)
        return int(rate) if rate.is_integer() else -1  # -1: refused by validate()
    if param.kind in ("number", "whole"):
        assert param.bounds is not None
        number = _parse_number(param.name, value, *param.bounds)
        return int(number) if param.kind == "whole" else number
    if param.kind == "bool":
        return _parse_bool(param.name, value)
    return value


def _written(value: Any) -> str:
    """A value in the live service's spelling: lowercase booleans, numbers without noise."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _live_number(param: Param, value: Any) -> float | int:
    """A number from a ``Configure``'s ``thresholds`` (JSON: any type can arrive)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ParamError(f"{param.name} must be a number, got {value!r}")
    try:  # a 400-digit integer is valid JSON and overflows a float
        finite = math.isfinite(value)
    except OverflowError:
        finite = False
    if not finite:
        raise ParamError(f"{param.name} must be a finite number")
    if param.kind == "whole":
        if float(value) != int(value):
            raise ParamError(f"{param.name} must be a whole number")
        return int(value)
    return float(value)


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

    KNOWN: ClassVar[tuple[str, ...]] = tuple(p.name for p in PARAMS)
    REPEATABLE: ClassVar[tuple[str, ...]] = tuple(p.name for p in PARAMS if p.kind == "list")

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
        for param in PARAMS:
            value = getattr(self, param.name)
            if param.bounds is not None and value is not None:
                _parse_number(param.name, str(value), *param.bounds)
        if (
            self.eager_eot_threshold is not None
            and self.eager_eot_threshold > self.effective_eot_threshold
        ):
            raise ParamError(
                f"eager_eot_threshold ({self.eager_eot_threshold:g}) must not exceed "
                f"eot_threshold ({self.effective_eot_threshold:g})"
            )
        if len(self.keyterm) > MAX_KEYTERMS:
            raise ParamError(f"at most {MAX_KEYTERMS} keyterms, got {len(self.keyterm)}")
        if any(not term.strip() for term in self.keyterm):
            raise ParamError("keyterm must not be empty")

    def to_query(self) -> str:
        """The query string, in the live service's spelling (lowercase booleans, repeats)."""
        pairs: list[tuple[str, str]] = []
        for param in PARAMS:
            value = getattr(self, param.name)
            if param.kind == "list":
                pairs.extend((param.name, item) for item in value)
            elif value is not None:
                pairs.append((param.name, _written(value)))
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
            param = _BY_NAME.get(key)
            if param is None or param.live != "thresholds":
                raise ParamError(f"unknown threshold {key!r}")
            if value is None and key == "eager_eot_threshold":
                params.eager_eot_threshold = None
                continue
            setattr(params, key, _live_number(param, value))
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
        for name, value in parse_qsl(query, keep_blank_values=True, strict_parsing=False):
            param = _BY_NAME.get(name)
            if param is None:
                raise ParamError(f"unknown query parameter {name!r}")
            if name in seen and param.kind != "list":
                raise ParamError(f"query parameter {name!r} given more than once")
            seen.add(name)
            if param.kind == "list":
                getattr(params, name).append(value)
            else:
                setattr(params, name, _read(param, value))
        if "model" not in seen:
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



