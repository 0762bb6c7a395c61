"""What the client sends besides audio: ``CloseStream``, ``ForceEndTurn``, ``Configure``, ...

``parse_client_message`` is the server's reader: a frame it cannot read is fatal
(``UNPARSABLE_CLIENT_MESSAGE``), a ``Configure`` with wrong *values* is not.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from flux_cli.protocol.base import ProtocolError


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
