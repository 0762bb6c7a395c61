"""``flux eval`` on a terminal: the plain report's cells as Rich tables, one per section."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TextIO

from rich.console import Console
from rich.table import Table
from rich.text import Text

from flux_cli.evaluate import formats
from flux_cli.evaluate.formats import Evaluation

NUMERIC = {"holds", "cut-offs", "shifts", "missed", "p50", "p90", "eager p50", "vs agent p50",
           "agent gap p50", "mid-speech", "seconds", "at"}


def _table(title: str, columns: Sequence[str], rows: Sequence[Sequence[str]]) -> Table:
    table = Table(title=title, title_justify="left", show_edge=False, header_style="bold",
                  pad_edge=False)
    for column in columns:
        table.add_column(column, justify="right" if column in NUMERIC else "left",
                         no_wrap=column != "transcript", overflow="fold")
    for row in rows:
        table.add_row(*(Text(cell) for cell in row))
    return table


def print_evaluation(stream: TextIO, evaluation: Evaluation) -> None:
    console = Console(file=stream, highlight=False)
    lines = formats.truth_lines(evaluation)
    console.print(Text(lines[0], style="bold"))
    for line in lines[1:]:
        console.print(Text(line))
    console.print()
    points = [p for run in evaluation.runs for p in run.points]
    if points:
        rows = [formats.threshold_cells(p) for p in points]
        console.print(_table("per threshold", formats.THRESHOLD_COLUMNS, rows))
        console.print()
    per_call = formats.per_call_result(evaluation)
    if per_call is not None and per_call[1]:
        rows = [formats.call_cells(c) for c in per_call[1]]
        console.print(_table(f"per call, eot_threshold {per_call[0]}", formats.CALL_COLUMNS, rows))
        console.print()
    if evaluation.worst:
        rows = [formats.case_cells(c) for c in evaluation.worst]
        console.print(_table("worst cases (listen to these first)", formats.CASE_COLUMNS, rows))
        console.print()
    for line in formats.summary_tail(evaluation):
        style = "bold green" if line.startswith("recommended: eot") else (
            "yellow" if line.startswith(("interrupted", "failed", "recommended")) else "")
        console.print(Text(line, style=style))
