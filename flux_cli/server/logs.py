"""``flux serve``'s logging: one line per stream, a traceback for every internal error.

Text for people (``--log-format text``), one JSON object per line for collectors (``json``).
Every line passes a redaction filter first, so a key can never reach the log, whichever
library wrote the line.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Sequence
from typing import Any, TextIO

from flux_cli.errors import redact

LEVELS = ("debug", "info", "warning", "error")
FORMATS = ("text", "json")
STREAM_FIELD = "stream"  # ``extra={"stream": {...}}``: a finished stream's figures


class Redacting(logging.Filter):
    """Replace every secret in the formatted message (and its arguments) by ``***``."""

    def __init__(self, secrets: Sequence[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            record.msg = redact(record.getMessage(), self.secrets)
            record.args = None
        return True


class JsonFormatter(logging.Formatter):
    """``{"time", "level", "logger", "message", "stream"?, "traceback"?}`` on one line."""

    def __init__(self, secrets: Sequence[str] = ()) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        stream = getattr(record, STREAM_FIELD, None)
        if isinstance(stream, dict):
            data[STREAM_FIELD] = stream
        if record.exc_info:
            data["traceback"] = redact(self.formatException(record.exc_info), self.secrets)
        return json.dumps(data, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    def __init__(self, secrets: Sequence[str] = ()) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")
        self.secrets = [s for s in secrets if s]

    def formatException(self, ei: Any) -> str:
        return redact(super().formatException(ei), self.secrets)


def configure(
    level: str = "info", fmt: str = "text", secrets: Sequence[str] = (),
    stream: TextIO | None = None,
) -> None:
    """Send ``flux_cli``'s loggers to stderr at ``level`` in ``fmt`` (idempotent)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter(secrets) if fmt == "json" else TextFormatter(secrets))
    handler.addFilter(Redacting(secrets))
    logger = logging.getLogger("flux_cli")
    for old in list(logger.handlers):
        logger.removeHandler(old)
    logger.addHandler(handler)
    logger.setLevel(level.upper())
    logger.propagate = False
    # websockets' own chatter (every handshake) only when asked for
    ws_level = logging.DEBUG if level == "debug" else logging.WARNING
    logging.getLogger("flux_cli.server.websockets").setLevel(ws_level)
