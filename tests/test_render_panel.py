"""The live panel as a screenshot: a recording Rich console at 60 and 120 columns.

What a user saw go wrong (issue 9): the status line split in two, a long turn pushed its
``+N ms`` onto a line of its own, the progress bar looked full without colour, "1 messages".
"""

from __future__ import annotations

import json

import pytest
from helpers.scripted_server import turn
from rich.console import Console

from flux_cli.protocol import parse_server_message
from flux_cli.render.live import RIGHT_MARGIN, PanelInfo, build_panel, finished_row
from flux_cli.render.multilive import build_multi_panel
from flux_cli.render.state import ViewState, apply, with_progress

LONG = (
    "Good morning I would like to book a cleaning for next week. Is there anything on "
    "Tuesday morning?"
)
INFO = PanelInfo(
    host="127.0.0.1:43757",
    source="recordings/2026-11-29/dental-office-call-0042.wav",
    duration_s=30.4,
    eot_threshold=0.7,
    eager_eot_threshold=0.5,
)


def busy_state() -> ViewState:
    state = apply(ViewState(), parse_server_message(json.dumps(
        {"type": "Connected", "request_id": "d70c7ba5-19a2-4212-a121-50417a40521d",
         "sequence_id": 0})))
    state = apply(state, parse_server_message(json.dumps(
        turn("EndOfTurn", 0, 0.77, 4.32, "Thank you for calling.", trigger="model"))),
        server_delay_s=0.111)
    for _ in range(57):
        state = apply(state, parse_server_message(json.dumps(
            turn("Update", 1, 5.82, 12.2, LONG, confidence=0.62))))
    return with_progress(state, 14.8, True)


def screen(renderable: object, columns: int) -> list[str]:
    console = Console(record=True, width=columns, color_system=None, force_terminal=False)
    console.print(renderable)
    return console.export_text().splitlines()


@pytest.mark.parametrize("columns", [60, 120])
def test_panel_lines_fit_and_the_status_line_never_wraps(columns: int) -> None:
    lines = screen(build_panel(busy_state(), INFO, width=columns - RIGHT_MARGIN), columns)
    assert all(len(line) <= columns - RIGHT_MARGIN for line in lines)
    status = [line for line in lines if "sent 14.8 s" in line]
    assert len(status) == 1 and "delay" in status[0]  # one line, delay included
    after = lines[lines.index(status[0]) + 1]
    assert after.startswith("╰")  # nothing of it spilled onto the next line
    bar = next(line for line in lines if "end of turn" in line)
    assert "0.62" in bar and "│" in bar and "┆" in bar
    progress = next(line for line in lines if "/ 30.4 s" in line)
    assert "━" in progress and "─" in progress  # sent and still to send look different
    if columns == 120:
        assert "59 messages" in status[0] and "request d70c7ba5" in status[0]
        assert "(eot 0.7, eager 0.5)" in bar
        assert "dental-office-call-0042.wav" in progress


def test_one_message_is_singular() -> None:
    state = apply(ViewState(), parse_server_message(json.dumps(
        {"type": "Connected", "request_id": "r", "sequence_id": 0})))
    text = "\n".join(screen(build_panel(state, INFO, width=117), 120))
    assert "1 message " in text and "1 messages" not in text


def test_a_long_finished_turn_keeps_its_delay_on_its_last_line() -> None:
    state = apply(ViewState(), parse_server_message(json.dumps(
        turn("EndOfTurn", 1, 5.82, 12.61, LONG + " " + LONG, trigger="model"))),
        server_delay_s=0.543)
    lines = screen(finished_row(state.turns[0]), 120)
    assert len(lines) == 2
    assert lines[-1].rstrip().endswith("+543 ms")
    assert lines[-1].strip() != "+543 ms"  # not alone on a line
    assert all(len(line) <= 120 for line in lines)


@pytest.mark.parametrize("columns", [60, 120])
def test_multichannel_panel_has_one_unwrapped_line_per_channel(columns: int) -> None:
    states = {"caller": busy_state(), "agent": ViewState()}
    lines = screen(build_multi_panel(states, INFO, columns - RIGHT_MARGIN), columns)
    assert all(len(line) <= columns - RIGHT_MARGIN for line in lines)
    caller = [line for line in lines if line.startswith("│ caller")]
    agent = [line for line in lines if line.startswith("│ agent")]
    assert len(caller) == 1 and len(agent) == 1
    assert "Tuesday morning?" in caller[0] and "listening" in agent[0]


def test_file_progress_bars_read_right_without_colour() -> None:
    import io

    from flux_cli.render.progress import FilesProgress

    progress = FilesProgress(io.StringIO())
    progress.add("0", "a.wav", 10.0)
    progress.add("1", "missing.wav", None)
    progress.update("0", 4.0, 1)
    progress.finish("1", 0, "failed", 0.0)
    lines = screen(progress.progress.get_renderable(), 100)
    assert "━" * 12 + "─" * 18 in lines[0] and "4.0/10.0 s" in lines[0] and "1 turn ·" in lines[0]
    assert "─" * 30 in lines[1] and "failed" in lines[1]


@pytest.mark.parametrize("columns", [60, 120])
def test_lines_printed_above_the_panel_keep_its_right_margin(columns: int) -> None:
    """A finished turn or a notice printed on the live console never reaches the last column
    (the terminal would wrap the cursor and the panel would be redrawn one line off)."""
    from flux_cli.render.live import LiveOutput
    from flux_cli.render.state import Notice

    state = apply(ViewState(), parse_server_message(json.dumps(
        turn("EndOfTurn", 1, 5.82, 12.61, LONG + " " + LONG, trigger="model"))),
        server_delay_s=0.543)
    console = Console(record=True, width=columns, color_system=None, force_terminal=False)
    output = LiveOutput(console, INFO)
    output.close(state, state.turns, [Notice("warning", "x" * (2 * columns))])
    lines = console.export_text().splitlines()
    assert len(lines) >= 4
    assert all(len(line.rstrip()) <= columns - RIGHT_MARGIN for line in lines)
