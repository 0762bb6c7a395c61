"""Plain lines, JSON lines, the JSONL log and the live panel, on real streams and consoles."""

from __future__ import annotations

import io
import json

from helpers.scripted_server import turn
from rich.console import Console

from flux_cli.client.events import ConnectionInfo, Progress, Received
from flux_cli.protocol import parse_server_message
from flux_cli.render.display import Display
from flux_cli.render.jsonl import JsonlLog
from flux_cli.render.live import LiveOutput, PanelInfo, build_panel
from flux_cli.render.plain import PlainOutput
from flux_cli.render.state import ViewState, apply


def received(
    data: dict[str, object] | str, at: float = 1000.0, delay: float | None = None
) -> Received:
    raw = data if isinstance(data, str) else json.dumps(data)
    try:
        message = parse_server_message(raw)
        problem = None
    except ValueError as exc:
        message, problem = None, str(exc)
    return Received(raw, message, at, delay, problem)


SCRIPT = [
    {"type": "Connected", "request_id": "req-42", "sequence_id": 0},
    turn("StartOfTurn", 0, 1.2, 1.6, "Hello"),
    turn("EndOfTurn", 0, 1.2, 3.45, "Hello, how are you?", confidence=0.91, trigger="model"),
    turn("StartOfTurn", 1, 4.0, 4.5, "Fine"),
    turn("Update", 1, 4.0, 5.0, "Fine thanks"),
]


def feed(display: Display) -> None:
    display.on_connected(ConnectionInfo("ws://h/v2/listen", "h:1", "req-42"))
    for i, data in enumerate(SCRIPT):
        display.on_message(received(data, delay=0.3 if i == 2 else None))
    display.close()


def test_text_lines() -> None:
    out, err = io.StringIO(), io.StringIO()
    feed(Display([PlainOutput(out, err)]))
    assert out.getvalue().splitlines() == [
        "[00:01.20-00:03.45] Hello, how are you?",
        "[00:04.00-00:05.00] Fine thanks (unfinished)",
    ]
    assert err.getvalue() == ""


def test_json_lines() -> None:
    out, err = io.StringIO(), io.StringIO()
    feed(Display([PlainOutput(out, err, as_json=True)]))
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [r["transcript"] for r in records] == ["Hello, how are you?", "Fine thanks"]
    assert records[0]["turn_index"] == 0 and records[0]["trigger"] == "model"
    assert records[0]["start"] == 1.2 and records[0]["end"] == 3.45 and records[0]["finished"]
    assert records[1]["finished"] is False and records[1]["trigger"] is None
    assert records[0]["words"][0] == {"word": "Hello,", "confidence": 0.95}


def test_notices_go_to_stderr_in_plain_mode() -> None:
    out, err = io.StringIO(), io.StringIO()
    display = Display([PlainOutput(out, err)])
    display.on_message(
        received({"type": "Warning", "sequence_id": 1, "code": "W1", "description": "careful"})
    )
    display.on_message(received({"type": "Mystery", "sequence_id": 2}))
    display.on_message(received("not json at all"))
    display.close()
    lines = err.getvalue().splitlines()
    assert lines[0] == "flux: warning: W1: careful"
    assert lines[1] == "flux: unknown: unknown message type 'Mystery'"
    assert lines[2].startswith("flux: unparsable: server sent a frame that is not JSON")
    assert out.getvalue() == ""


def test_jsonl_log_is_verbatim_plus_received_at() -> None:
    stream = io.StringIO()
    log = JsonlLog(stream)
    display = Display([], log)
    for i, data in enumerate(SCRIPT):
        display.on_message(received(data, at=1700000000.5 + i))
    display.on_message(received("{broken", at=1.0))
    lines = stream.getvalue().splitlines()
    assert len(lines) == len(SCRIPT) + 1
    for i, (line, data) in enumerate(zip(lines, SCRIPT, strict=False)):
        record = json.loads(line)
        assert record.pop("received_at") == 1700000000.5 + i
        assert record == data
    assert json.loads(lines[-1]) == {"received_at": 1.0, "unparsed": "{broken"}


INFO = PanelInfo(
    host="127.0.0.1:9999",
    source="call.wav",
    duration_s=10.0,
    eot_threshold=0.7,
    eager_eot_threshold=0.4,
)


def render(renderable: object) -> str:
    console = Console(record=True, width=100, color_system=None, force_terminal=False)
    console.print(renderable)
    return console.export_text()


def test_panel_shows_transcript_state_confidence_and_status() -> None:
    state = ViewState()
    for i, data in enumerate(SCRIPT[:3]):
        state = apply(
            state, parse_server_message(json.dumps(data)), server_delay_s=0.312 if i == 2 else None
        )
    state = apply(
        state,
        parse_server_message(
            json.dumps(turn("EagerEndOfTurn", 1, 4.0, 5.0, "Fine thanks.", confidence=0.62))
        ),
    )
    text = render(build_panel(state, INFO))
    assert "Fine thanks." in text
    assert "turn 1" in text and "eager end" in text
    assert "0.62" in text and "eot 0.7" in text and "eager 0.4" in text
    assert "│" in text and "┆" in text  # the two threshold marks on the bar
    assert "127.0.0.1:9999" in text and "req-42" in text
    assert "4 messages" in text
    assert "delay last 312 ms" in text
    assert "/ 10.0 s" in text  # progress through a file of known duration


def test_markup_in_server_text_is_shown_literally() -> None:
    state = apply(
        ViewState(),
        parse_server_message(json.dumps(turn("StartOfTurn", 0, 0.0, 1.0, "[bold]x[/bold] [red]y"))),
    )
    text = render(build_panel(state, INFO))
    assert "[bold]x[/bold] [red]y" in text


def test_low_confidence_words_are_styled() -> None:
    message = turn(
        "StartOfTurn",
        0,
        0.0,
        1.0,
        "call me maybe",
        words=[
            {"word": "call", "confidence": 0.9},
            {"word": "me", "confidence": 0.2},
            {"word": "maybe", "confidence": 0.95},
        ],
    )
    state = apply(ViewState(), parse_server_message(json.dumps(message)))
    console = Console(record=True, width=100, force_terminal=True, color_system="standard")
    console.print(build_panel(state, INFO))
    html = console.export_html(inline_styles=True)
    assert "text-decoration: underline" in html
    underlined = [
        seg.text
        for seg in console.render(build_panel(state, INFO))
        if seg.style is not None and seg.style.underline
    ]
    assert underlined == ["me"]


def test_live_output_prints_finished_turns_and_closes_with_status() -> None:
    console = Console(record=True, width=100, color_system=None, force_terminal=False)
    display = Display([LiveOutput(console, INFO, min_interval_s=0.0)])
    display.on_progress(Progress(audio_sent_s=2.0, input_done=False))
    feed(display)
    text = console.export_text()
    assert "[00:01.20-00:03.45] Hello, how are you?  +300 ms" in text
    assert "[00:04.00-00:05.00] Fine thanks (unfinished)" in text
    assert "req-42" in text and "5 messages" in text
