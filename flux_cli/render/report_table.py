"""``flux report`` on a terminal: the plain report's lines and cells, drawn as a Rich table.

The report package formats (``report/formats.py``); this only draws, so render/ never reads
a log or a summary and the arrow points one way: report → render.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TextIO

from rich.console import Console
from rich.table import Table
from rich.text import Text


@dataclass(frozen=True)
class ReportTable:
    """What to draw, already formatted: header lines, one table, trailing lines."""

    header: Sequence[str]  # the first is the title; "note:" lines are highlighted
    columns: Sequence[str]
    numeric: frozenset[str]
    wide: str  # the one column that wraps and takes the free width
    rows: Sequence[tuple[Sequence[str], bool]]  # (cells, finished)
    footer: Sequence[str] = ()


def print_report(stream: TextIO, report: ReportTable) -> None:
    console = Console(file=stream, highlight=False)
    console.print(Text(report.header[0], style="bold"))
    for line in report.header[1:]:
        console.print(Text(line, style="yellow" if line.startswith("note:") else ""))
    console.print()
    table = Table(show_edge=False, header_style="bold", pad_edge=False)
    for column in report.columns:
        table.add_column(
            column,
            justify="right" if column in report.numeric else "left",
            no_wrap=column != report.wide,
            overflow="fold",
            ratio=1 if column == report.wide else None,
        )
    for cells, finished in report.rows:
        table.add_row(*(Text(cell) for cell in cells), style="" if finished else "yellow")
    console.print(table)
    if report.footer:
        console.print()
        for line in report.footer:
            console.print(Text(line))
