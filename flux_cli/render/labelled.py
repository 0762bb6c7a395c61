"""Turn lines that say whose they are: the file (many inputs) or the channel (``--multichannel``).

``text``: ``caller: [00:01.20-00:03.45] Hello`` ; ``json``: the turn's record with the label
first (``{"file": ...}`` or ``{"channel": ...}``). Lines go to a ``write`` callback, so the
same output prints to a pipe or above a Rich progress display.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

from flux_cli.render.plain import notice_line, text_line
from flux_cli.render.state import Notice, Turn, ViewState


def labelled_text(label: str, turn: Turn) -> str:
    return f"{label}: {text_line(turn)}"


def labelled_json(field: str, label: str, turn: Turn) -> str:
    return json.dumps({field: label, **turn.to_dict()}, ensure_ascii=False)


class LabelledLines:
    """Formats turns and notices of one labelled stream (or of many, label given per call)."""

    def __init__(
        self,
        write: Callable[[str], None],
        warn: Callable[[str], None],
        *,
        field: str,
        as_json: bool = False,
    ) -> None:
        self.write = write
        self.warn = warn
        self.field = field
        self.as_json = as_json

    def turn(self, label: str, turn: Turn) -> None:
        if self.as_json:
            self.write(labelled_json(self.field, label, turn))
        else:
            self.write(labelled_text(label, turn))

    def notice(self, label: str, notice: Notice) -> None:
        if notice.kind != "error":  # the fatal Error becomes the stream's one error line
            self.warn(f"{label}: {notice_line(notice)}")


class LabelledOutput:
    """A ``display.Output`` for one stream of many: its finished turns, labelled."""

    def __init__(self, lines: LabelledLines, label: str) -> None:
        self.lines = lines
        self.label = label

    def update(self, state: ViewState, finished: Sequence[Turn], notices: Sequence[Notice]) -> None:
        for notice in notices:
            self.lines.notice(self.label, notice)
        for turn in finished:
            self.lines.turn(self.label, turn)

    def tick(self, state: ViewState) -> None:
        """Nothing to redraw between messages."""

    def close(self, state: ViewState, finished: Sequence[Turn], notices: Sequence[Notice]) -> None:
        self.update(state, finished, notices)
