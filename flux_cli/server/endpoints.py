"""Plain HTTP GETs served on the ``/v2/listen`` port: health, readiness, status, metrics.

They answer from the handshake hook, before any WebSocket exists, so a load balancer or
Kubernetes probes the very port the streams use. None needs the API key: they carry counts
and model names, never credentials or request contents.

- ``/healthz``: 200 while the process can answer at all (liveness).
- ``/readyz``: 200 only when the models are loaded, the server is not draining and the whole
  server (every worker) has room for another stream; 503 with the reason otherwise, so a
  balancer stops sending streams to a full or stopping backend.
- ``/v1/status``: JSON for people and dashboards (see ``status_document``).
- ``/metrics``: Prometheus text format (``ServerMetrics``).
"""

from __future__ import annotations

import http
import json
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flux_cli import __version__
from flux_cli.engine.interfaces import AsrInfo, Engine
from flux_cli.protocol import LANGUAGES, MULTILINGUAL_MODEL
from flux_cli.server.capacity import DRAINING, LOADING, StreamSlots

if TYPE_CHECKING:
    from websockets.http11 import Response

    from flux_cli.server.metrics import ServerMetrics

PATHS = ("/healthz", "/readyz", "/v1/status", "/metrics")

MODELS = {
    "listen": ["flux-general-en"],
    "languages": ["en"],
    "speech_recognition": "Whisper tiny.en (English, CTranslate2)",
    "asr": "tiny.en",
    "voice_activity": "Silero VAD",
    "end_of_turn": "Smart Turn v3.2",
    "voice_change": "off",
}


def voice_mode(engine: Engine) -> str:
    """Where a new voice ends a turn on this engine (``models_document``'s ``voice_change``)."""
    if engine.speaker is None:
        return "off"
    return "call_and_pauses" if engine.voice_pauses else "call"


def models_document(asr: AsrInfo, voice_change: str = "off") -> dict[str, Any]:
    """``/v1/status``'s ``models``: which Whisper runs, so which listen models and languages,
    and where a new voice ends a turn: ``call`` (once the call's two voices are known, the
    default), ``call_and_pauses`` (``--voice-change``) or ``off`` (``--no-voice-change``)."""
    doc = {**MODELS, "speech_recognition": asr.label, "asr": asr.name,
           "voice_change": voice_change}
    if asr.multilingual:
        doc.update(listen=["flux-general-en", MULTILINGUAL_MODEL], languages=list(LANGUAGES))
    return doc


@dataclass
class ServerState:
    """What the endpoints report; owned by the app, shared with the drain logic."""

    slots: StreamSlots
    metrics: ServerMetrics
    started: float = field(default_factory=time.monotonic)
    models: dict[str, Any] = field(default_factory=lambda: dict(MODELS))

    @property
    def loading(self) -> bool:
        return self.slots.state == LOADING

    @property
    def draining(self) -> bool:
        return self.slots.state == DRAINING

    def not_ready_reason(self) -> str | None:
        if self.loading:
            return "loading models"
        if self.draining:
            return "draining: not taking new streams"
        if not self.slots.has_room():
            return f"at capacity: {self.slots.max_streams} streams"
        return None


def status_document(state: ServerState) -> dict[str, Any]:
    """The ``/v1/status`` JSON: whole-server counts first, then each worker."""
    reason = state.not_ready_reason()
    workers = state.slots.view()
    return {
        "health": "ok",
        "ready": reason is None,
        "reason": reason,
        "draining": state.draining,
        "active_streams": sum(w.active_streams for w in workers),
        "max_streams": state.slots.max_streams,
        "workers": len(workers),
        "workers_detail": [
            {"index": w.index, "pid": w.pid, "state": w.state, "active_streams": w.active_streams}
            for w in workers
        ],
        "answered_by_worker": state.slots.index,
        "uptime_s": round(time.monotonic() - state.started, 3),
        "version": __version__,
        "models": state.models,
    }


def _response(status: http.HTTPStatus, body: bytes, content_type: str) -> Response:
    from websockets.datastructures import Headers
    from websockets.http11 import Response

    headers = Headers()
    headers["Content-Type"] = content_type
    headers["Content-Length"] = str(len(body))
    headers["Cache-Control"] = "no-store"
    headers["Connection"] = "close"
    return Response(status.value, status.phrase, headers, body)


def _text(status: http.HTTPStatus, text: str) -> Response:
    return _response(status, f"{text}\n".encode(), "text/plain; charset=utf-8")


def answer(state: ServerState, path: str) -> Response:
    """The response for one of ``PATHS``."""
    if path == "/healthz":
        return _text(http.HTTPStatus.OK, "ok")
    if path == "/readyz":
        reason = state.not_ready_reason()
        if reason is None:
            return _text(http.HTTPStatus.OK, "ready")
        return _text(http.HTTPStatus.SERVICE_UNAVAILABLE, reason)
    if path == "/v1/status":
        body = json.dumps(status_document(state), indent=2).encode() + b"\n"
        return _response(http.HTTPStatus.OK, body, "application/json")
    body, content_type = state.metrics.exposition()
    return _response(http.HTTPStatus.OK, body, content_type)
