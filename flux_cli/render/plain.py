"""``--output text`` and ``--output json``: one flushed line per finished turn.

Meant for pipes and files: no colour, no cursor movement, each line complete when written,
so ``| head -1`` or a tailing process sees a turn as soon as it ends.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TextIO

from flux_cli.render.state import Notice, Turn, ViewState, time_span

UNFINISHED_MARK = " (unfinished)"


def text_line(turn: Turn) -> str:
    """``[00:01.20-00:03.45] Hello, how are you?`` (plus a marker if the stream cut it short;
    ``(de, en)`` before the text when a multilingual model reports the languages)."""
    mark = "" if turn.finished else UNFINISHED_MARK
    languages = f"({', '.join(turn.languages)}) " if turn.languages else ""
    return f"{time_span(turn)} {languages}{turn.transcript}{mark}"


def json_line(turn: Turn) -> str:
    return json.dumps(turn.to_dict(), ensure_ascii=False)


def notice_line(notice: Notice) -> str:
    return f"flux: {notice.kind}: {notice.text}"


class PlainOutput:
    """Turns on stdout (text or JSON lines), notices on stderr."""

    def __init__(self, out: TextIO, err: TextIO, *, as_json: bool = False) -> None:
        self.out = out
        self.err = err
        self.as_json = as_json

    def update(self, state: ViewState, finished: Sequence[Turn], notices: Sequence[Notice]) -> None:
        for notice in notices:
            if notice.kind != "error":  # the fatal Error is the CLI's one error line
                self.err.write(notice_line(notice) + "\n")
                self.err.flush()
        for turn in finished:
            self.out.write((json_line(turn) if self.as_json else text_line(turn)) + "\n")
            self.out.flush()

    def tick(self, state: ViewState) -> None:
        """Nothing to redraw between messages."""

    def close(self, state: ViewState, finished: Sequence[Turn], notices: Sequence[Notice]) -> None:
        self.update(state, finished, notices)
