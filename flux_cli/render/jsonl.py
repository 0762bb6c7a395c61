"""``--jsonl``: every server message, verbatim, one per line, as it arrives.

Format: the server's JSON object with one field added, ``"received_at"`` (unix time in
seconds, float). Field order and values are the server's; a frame that is not a JSON object
is logged as ``{"received_at": ..., "unparsed": "<the frame text>"}``.
"""

from __future__ import annotations

import json
from typing import Any, TextIO


class JsonlLog:
    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def write(self, raw: str, received_at: float) -> None:
        try:
            data: Any = json.loads(raw)
        except ValueError:
            data = None
        if isinstance(data, dict):
            record = {**data, "received_at": round(received_at, 6)}
        else:
            record = {"received_at": round(received_at, 6), "unparsed": raw}
        self.stream.write(json.dumps(record, ensure_ascii=False) + "\n")
        self.stream.flush()
