"""Many inputs on a terminal: one Rich progress bar per file, turn lines printed above them.

Only the main thread calls this (``parallel`` relays every stream's news to it).
"""

from __future__ import annotations

from typing import TextIO

from rich.console import Console
from rich.progress import Progress, ProgressColumn, Task, TaskID, TextColumn
from rich.text import Text


class _Bar(ProgressColumn):
    """Sent ``━``, still to send ``─``: two glyphs, so the bar reads right without colour
    (Rich's own bar draws both halves with one glyph and tells them apart by colour only)."""

    width = 30

    def render(self, task: Task) -> Text:
        if not task.total:
            return Text("·" * self.width, style="dim")
        filled = round(min(1.0, task.completed / task.total) * self.width)
        bar = Text("━" * filled, style="green" if task.finished else "magenta")
        bar.append("─" * (self.width - filled), style="dim")
        return bar


def _status(turns: int, status: str) -> str:
    return f"{turns} turn{'' if turns == 1 else 's'} · {status}"


class FilesProgress:
    def __init__(self, stream: TextIO) -> None:
        self.console = Console(file=stream, highlight=False)
        self.progress = Progress(
            TextColumn("{task.description}", style="bold"),
            _Bar(),
            TextColumn("{task.fields[sent]}"),
            TextColumn("{task.fields[status]}"),
            console=self.console,
            auto_refresh=False,
            transient=False,
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self.tasks: dict[str, TaskID] = {}
        self._started = False

    def add(self, key: str, name: str, duration_s: float | None) -> None:
        self.tasks[key] = self.progress.add_task(
            name, total=duration_s or None, sent="", status="waiting"
        )

    def _start(self) -> None:
        if not self._started:
            self._started = True
            self.progress.start()

    def update(self, key: str, sent_s: float, turns: int, status: str = "streaming") -> None:
        self._start()
        task = self.tasks[key]
        total = self.progress.tasks[task].total
        sent = f"{sent_s:.1f}/{total:.1f} s" if total else f"{sent_s:.1f} s"
        self.progress.update(task, completed=sent_s, sent=sent, status=_status(turns, status))

    def finish(self, key: str, turns: int, status: str, sent_s: float | None = None) -> None:
        """The file is over: the whole of it (``sent_s`` None), or as far as it got."""
        self._start()
        task = self.tasks[key]
        total = self.progress.tasks[task].total
        if sent_s is None:
            completed, sent = total or 1.0, f"{total:.1f} s" if total else ""
        else:
            completed = sent_s
            sent = f"{sent_s:.1f}/{total:.1f} s" if total else f"{sent_s:.1f} s"
        self.progress.update(
            task,
            total=total or 1.0,  # a length now, so an unknown one stops pulsing
            completed=completed if total else min(completed, 1.0),
            sent=sent,
            status=_status(turns, status),
        )

    def refresh(self) -> None:
        if self._started:
            self.progress.refresh()

    def print_line(self, line: str) -> None:
        """A line kept in the scrollback above the bars (markup never parsed).

        Printing does not start the bars: until the streams run, other status lines (the
        local engine starting) go to the terminal directly and must not cut into them.
        """
        self.progress.console.print(Text(line))
        self.refresh()

    def stop(self) -> None:
        if self._started:
            self.progress.refresh()
            self.progress.stop()
