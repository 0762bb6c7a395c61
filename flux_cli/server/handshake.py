"""The WebSocket handshake of ``/v2/listen``: who may stream, and with which parameters.

Each refusal has its HTTP status, a ``dg-error`` header saying why, and a metric label.
Credentials are compared in constant time and never logged.
"""

from __future__ import annotations

import hmac
import http
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from flux_cli.protocol import StreamParams

if TYPE_CHECKING:
    from websockets.asyncio.server import ServerConnection
    from websockets.http11 import Request, Response

MULTI_MODEL = "flux-general-multi"


@dataclass
class Accepted:
    """What the handshake learnt about a connection, for its handler."""

    request_id: str
    params: StreamParams
    decoder: Any


class Refusal(Exception):
    def __init__(self, status: http.HTTPStatus, reason: str, metric: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.metric = metric


def header_safe(text: str) -> str:
    """Header values must be one line of printable ASCII."""
    return "".join(ch if 32 <= ord(ch) < 127 else "?" for ch in text)[:300]


def offered_subprotocols(request: Request) -> list[str]:
    values = request.headers.get_all("Sec-WebSocket-Protocol")
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def authorised(request: Request, api_key: str) -> bool:
    """``Authorization: Token KEY`` (or Bearer), or the browser form: subprotocol ``token, KEY``.

    ``hmac.compare_digest`` takes the same time wherever the first wrong byte is, so the
    answer's timing tells an attacker nothing about the key.
    """
    expected = api_key.encode()
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() in ("token", "bearer") and hmac.compare_digest(
        value.strip().encode(), expected
    ):
        return True
    offered = offered_subprotocols(request)
    for i, name in enumerate(offered[:-1]):
        if name.lower() in ("token", "bearer") and hmac.compare_digest(
            offered[i + 1].encode(), expected
        ):
            return True
    return False


def language_refusal(query: str, multilingual: bool = False) -> str | None:
    """The live service's language rules, and what this engine's Whisper can do.

    ``flux-general-multi`` needs a multilingual Whisper (``flux serve --asr base``): on
    tiny.en it gets a 400 that says why and how. A ``language_hint`` with any model but
    ``flux-general-multi`` is a 400, as on the live service; unknown languages are refused by
    ``StreamParams`` (400 here, ``ConfigureFailure`` mid-stream).
    """
    pairs = parse_qsl(query, keep_blank_values=True)
    models = [v for k, v in pairs if k == "model"]
    hinted = any(k == "language_hint" for k, _ in pairs)
    if MULTI_MODEL in models:
        if multilingual:
            return None
        return ("this engine runs the English-only Whisper tiny.en: model flux-general-multi "
                "needs a multilingual one (flux serve --asr base, or FLUX_ASR=base; "
                "pip install 'flux-cli[base]'), or use model=flux-general-en")
    if hinted and models:
        return f"language_hint is only accepted with model={MULTI_MODEL}, got model={models[0]}"
    return None


class CredentialFilter(logging.Filter):
    """websockets logs every request header at DEBUG: never the credentials."""

    SECRET_HEADERS = ("authorization", "sec-websocket-protocol")

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 2 and isinstance(args[0], str) \
                and args[0].lower() in self.SECRET_HEADERS:
            record.args = (args[0], "***")
        return True


def websockets_logger() -> logging.Logger:
    logger = logging.getLogger("flux_cli.server.websockets")
    if not any(isinstance(f, CredentialFilter) for f in logger.filters):
        logger.addFilter(CredentialFilter())
    return logger


def reject(
    connection: ServerConnection, status: http.HTTPStatus, reason: str
) -> Response:
    response = connection.respond(status, f"{reason}\n")
    response.headers["dg-error"] = header_safe(reason)
    return response
