"""Progress while the calls stream: one bar per stream on a terminal's stderr, else nothing.

The report itself goes to stdout when the run is over, so bars never mix with it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from flux_cli.env import Env
from flux_cli.evaluate.runner import StreamResult

if TYPE_CHECKING:
    from flux_cli.render.progress import FilesProgress


class Screen:
    """Progress bars on a terminal's stderr; nothing anywhere else (the report is stdout)."""

    def __init__(self, env: Env) -> None:
        self.progress: FilesProgress | None = None
        isatty = getattr(env.stderr, "isatty", None)
        if callable(isatty) and isatty():
            from flux_cli.render.progress import FilesProgress

            self.progress = FilesProgress(env.stderr)
        self.added: set[str] = set()

    def tick(self, items: Sequence[StreamResult]) -> None:
        if self.progress is None:
            return
        for item in items:
            key = item.stream.key
            if key not in self.added:
                self.added.add(key)
                label = item.stream.call + ("" if item.stream.threshold is None
                                            else f" @ {item.stream.threshold:g}")
                self.progress.add(key, label, item.duration_s or None)
            ends = sum(e.event == "EndOfTurn" for e in item.collector.events)
            if item.result is None:
                self.progress.update(key, item.collector.sent_s, ends, "streaming")
        self.progress.refresh()

    def done(self, item: StreamResult) -> None:
        if self.progress is None or item.stream.key not in self.added:
            return
        ends = sum(e.event == "EndOfTurn" for e in item.collector.events)
        status = "done" if item.finished else "stopped"
        self.progress.finish(item.stream.key, ends, status,
                             None if item.finished else item.collector.sent_s)

    def stop(self) -> None:
        if self.progress is not None:
            self.progress.stop()
