"""Many inputs on a terminal: one Rich progress bar per file, turn lines printed above them.

Only the main thread calls this (``parallel`` relays every stream's news to it).
"""

from __future__ import annotations

from typing import TextIO

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn
from rich.text import Text


def _status(turns: int, status: str) -> str:
    return f"{turns} turn{'' if turns == 1 else 's'} · {status}"


class FilesProgress:
    def __init__(self, stream: TextIO) -> None:
        self.console = Console(file=stream, highlight=False)
        self.progress = Progress(
            TextColumn("{task.description}", style="bold"),
            BarColumn(bar_width=30, complete_style="magenta", finished_style="green"),
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
            completed, sent = total or 0, f"{total:.1f} s" if total else ""
        else:
            completed = sent_s
            sent = f"{sent_s:.1f}/{total:.1f} s" if total else f"{sent_s:.1f} s"
        self.progress.update(task, completed=completed, sent=sent, status=_status(turns, status))

    def refresh(self) -> None:
        if self._started:
            self.progress.refresh()

    def print_line(self, line: str) -> None:
        """A finished turn, kept in the scrollback above the bars (markup never parsed)."""
        self._start()
        self.progress.console.print(Text(line))
        self.progress.refresh()

    def stop(self) -> None:
        if self._started:
            self.progress.refresh()
            self.progress.stop()
