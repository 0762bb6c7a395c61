"""``--jsonl``: every server message, verbatim, one per line, as it arrives.

Format: the server's JSON object with the client's own fields added:

- ``"received_at"``: unix time in seconds (float) when the message arrived;
- on a ``TurnInfo`` whose audio this client sent as raw PCM, ``"audio_window_end_sent_at"``:
  unix time when the frame holding ``audio_window_end`` was sent. ``received_at`` minus it
  is the server's delay on that message, exactly as the live panel shows it, so
  ``flux report`` can compute the per-turn delay from the log alone.

Field order and values are the server's; a frame that is not a JSON object is logged as
``{"received_at": ..., "unparsed": "<the frame text>"}``. Two lines are the client's, not the
server's, and say so with a ``flux.`` type: the first, ``{"type": "flux.request", "url": ...}``
(the request URL with the stream's parameters, so a report knows the thresholds; keys travel
in a header and never appear), and ``{"type": "flux.end", "audio_sent_s": ...}`` at the end.
"""

from __future__ import annotations

import json
from typing import Any, TextIO

REQUEST_TYPE = "flux.request"
END_TYPE = "flux.end"
SENT_AT_FIELD = "audio_window_end_sent_at"


class JsonlLog:
    """Writes records to ``stream``; ``extra`` fields (``{"channel": ...}``) go on every one."""

    def __init__(self, stream: TextIO, extra: dict[str, Any] | None = None) -> None:
        self.stream = stream
        self.extra = dict(extra or {})

    def _emit(self, record: dict[str, Any]) -> None:
        if self.extra:
            record = {**record, **self.extra}
        self.stream.write(json.dumps(record, ensure_ascii=False) + "\n")
        self.stream.flush()

    def write(self, raw: str, received_at: float, sent_at: float | None = None) -> None:
        try:
            data: Any = json.loads(raw)
        except ValueError:
            data = None
        if isinstance(data, dict):
            record = {**data, "received_at": round(received_at, 6)}
            if sent_at is not None:
                record[SENT_AT_FIELD] = round(sent_at, 6)
        else:
            record = {"received_at": round(received_at, 6), "unparsed": raw}
        self._emit(record)

    def write_request(self, url: str, at: float) -> None:
        self._emit({"type": REQUEST_TYPE, "url": url, "at": round(at, 6)})

    def write_end(self, audio_sent_s: float, at: float) -> None:
        self._emit({"type": END_TYPE, "audio_sent_s": round(audio_sent_s, 3), "at": round(at, 6)})
