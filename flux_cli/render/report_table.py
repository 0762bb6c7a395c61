"""``flux report`` on a terminal: the same lines and cells as the plain report, as a Rich table."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TextIO

from rich.console import Console
from rich.table import Table
from rich.text import Text

from flux_cli.report import formats
from flux_cli.report.summary import Difference, Summary, TurnRow


def print_report(
    stream: TextIO,
    summary: Summary,
    rows: Sequence[TurnRow],
    comparison: tuple[Summary, Sequence[Difference]] | None = None,
) -> None:
    console = Console(file=stream, highlight=False)
    lines = formats.summary_lines(summary)
    console.print(Text(lines[0], style="bold"))
    for line in lines[1:]:
        console.print(Text(line, style="yellow" if line.startswith("note:") else ""))
    console.print()
    table = Table(show_edge=False, header_style="bold", pad_edge=False)
    for column in formats.COLUMNS:
        numeric = column in formats.NUMERIC
        table.add_column(
            column,
            justify="right" if numeric else "left",
            no_wrap=column != "transcript",
            overflow="fold",
            ratio=1 if column == "transcript" else None,
        )
    for row in rows:
        cells = formats.row_cells(row)
        style = "" if row.finished else "yellow"
        table.add_row(*(Text(cell) for cell in cells), style=style)
    console.print(table)
    if comparison is not None:
        console.print()
        for line in formats.comparison_lines(summary, *comparison):
            console.print(Text(line))
