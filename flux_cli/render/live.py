"""``--output live``: a Rich panel that follows the current turn as it grows.

Finished turns are printed above the panel (so they stay in the scrollback); the panel holds
the turn in progress, its end-of-turn confidence against the thresholds, progress through
the input and a status line. Server text is always ``Text``, never markup. The panel is
redrawn only from the main thread (``auto_refresh=False``), at most every ``min_interval_s``.
"""

from __future__ import annotations

import itertools
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TextIO

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from flux_cli.render.state import (
    EAGER,
    ENDED,
    RESUMED,
    SPEAKING,
    Notice,
    Turn,
    ViewState,
    styled_words,
    time_span,
)

BAR_WIDTH = 40
# Columns left free right of the panel: the terminal's own echo of ^C lands there instead of
# wrapping a full-width last line, which would shift the panel and leave its top behind.
RIGHT_MARGIN = 3
LOW_CONFIDENCE_STYLE = "dim underline"
STATE_STYLES = {SPEAKING: "green", EAGER: "yellow", RESUMED: "cyan", ENDED: "bold blue"}
NOTICE_STYLES = {"warning": "yellow", "error": "bold red", "unknown": "magenta"}


@dataclass(frozen=True)
class PanelInfo:
    """What the panel shows that does not come from messages."""

    host: str
    source: str
    duration_s: float | None
    eot_threshold: float
    eager_eot_threshold: float | None


def turn_text(turn: Turn) -> Text:
    """The transcript with low-confidence words marked; built from plain strings only."""
    text = Text()
    for i, (token, low) in enumerate(styled_words(turn)):
        if i:
            text.append(" ")
        text.append(token, style=LOW_CONFIDENCE_STYLE if low else "")
    return text


def finished_line(turn: Turn, label: str | None = None) -> Text:
    line = Text(f"{label}: " if label else "", style="bold")
    line.append(time_span(turn) + " ", style="cyan")
    line.append_text(turn_text(turn))
    if not turn.finished:
        line.append(" (unfinished)", style="yellow")
    if turn.server_delay_s is not None:
        line.append(delay_text(turn))
    return line


def delay_text(turn: Turn) -> Text:
    if turn.server_delay_s is None:
        return Text("")
    return Text(f"  +{turn.server_delay_s * 1000:.0f} ms", style="dim")


def finished_row(turn: Turn, label: str | None = None) -> RenderableType:
    """A finished turn for the scrollback: when the transcript wraps, the ``+N ms`` stays on
    its last line (a column of its own) instead of wrapping onto a line by itself."""
    if turn.server_delay_s is None:
        return finished_line(turn, label)
    grid = Table.grid(padding=0)
    grid.add_column(overflow="fold")
    grid.add_column(no_wrap=True, vertical="bottom")
    text = Text(f"{label}: " if label else "", style="bold")
    text.append(time_span(turn) + " ", style="cyan")
    text.append_text(turn_text(turn))
    if not turn.finished:
        text.append(" (unfinished)", style="yellow")
    grid.add_row(text, delay_text(turn))
    return grid


def confidence_bar(
    confidence: float, eot: float, eager: float | None, width: int = BAR_WIDTH + 40
) -> Text:
    """``end of turn ████░░░│░░ 0.62`` with ``│`` at eot_threshold and ``┆`` at eager.

    The bar shrinks (down to 10 cells) so the line fits ``width`` columns without wrapping.
    """
    thresholds = f"  (eot {eot:g}" + (f", eager {eager:g})" if eager is not None else ")")
    bar_width = max(10, min(BAR_WIDTH, width - len("end of turn ") - 5 - len(thresholds)))
    confidence = min(1.0, max(0.0, confidence))
    filled = round(confidence * bar_width)
    marks = {min(bar_width - 1, round(eot * bar_width)): "│"}
    if eager is not None:
        marks.setdefault(min(bar_width - 1, round(eager * bar_width)), "┆")
    style = "green" if confidence >= eot else "yellow" if eager and confidence >= eager else "red"
    cells = [
        (marks[i], "bold") if i in marks else ("█", style) if i < filled else ("░", "dim")
        for i in range(bar_width)
    ]
    bar = Text("end of turn ")
    for (char, cell_style), run in itertools.groupby(cells):
        bar.append(char * len(list(run)), style=cell_style)
    bar.append(f" {confidence:.2f}")
    if len(bar.plain) + len(thresholds) <= width:
        bar.append(thresholds, style="dim")
    return bar


def _fit(text: str, room: int) -> str:
    """``text``, or its end after ``…`` when it is longer than ``room``."""
    if len(text) <= room:
        return text
    return "…" + text[-(room - 1) :] if room > 1 else ""


def progress_line(state: ViewState, info: PanelInfo, width: int = BAR_WIDTH + 60) -> Text:
    """Source, a bar (sent ``━``, still to send ``─``: told apart without colour), seconds."""
    sent = state.audio_sent_s
    done_note = "  (input done, waiting for the server)" if state.input_done else ""
    if info.duration_s:
        seconds = f" {sent:.1f} / {info.duration_s:.1f} s"
        name = _fit(info.source, max(8, width - 10 - 2 - len(seconds)))
        bar_width = max(10, min(BAR_WIDTH, width - len(name) - 2 - len(seconds)))
        line = Text(f"{name}  ")
        filled = round(min(1.0, sent / info.duration_s) * bar_width)
        line.append("━" * filled, style="magenta")
        line.append("─" * (bar_width - filled), style="dim")
        line.append(seconds)
    else:
        line = Text(f"{_fit(info.source, max(8, width - 16))}  {sent:.1f} s sent")
    if done_note and len(line.plain) + len(done_note) > width:
        done_note = "  (input done)"
    if done_note and len(line.plain) + len(done_note) <= width:
        line.append(done_note, style="dim")
    return line


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def status_line(state: ViewState, info: PanelInfo, width: int | None = None) -> Text:
    """Server, request, audio sent, messages, delays: one line, whatever the width.

    When it does not fit, the least useful parts go first (the request id is shortened,
    then dropped, then the host), so the line never wraps.
    """
    delays = state.delays_s
    request = state.request_id or "-"
    parts: dict[str, str] = {
        "host": info.host,
        "request": f"request {request}",  # dropped below when there is none
        "sent": f"sent {state.audio_sent_s:.1f} s",
        "messages": plural(state.messages, "message"),
    }
    if delays:
        median_ms = statistics.median(delays) * 1000
        parts["delay"] = f"delay last {delays[-1] * 1000:.0f} ms, median {median_ms:.0f} ms"
    spoken = state.current.languages if state.current else (
        state.turns[-1].languages if state.turns else ())
    if spoken or state.languages_hinted:
        hinted = f" (hints {','.join(state.languages_hinted)})" if state.languages_hinted else ""
        parts["languages"] = f"lang {','.join(spoken) or '?'}{hinted}"

    if state.request_id is None:
        del parts["request"]

    def joined() -> str:
        return " · ".join(parts.values())

    if width is not None:
        if len(joined()) > width and len(request) > 9:
            parts["request"] = f"request {request[:8]}…"
        for drop in ("request", "host", "messages", "languages"):
            if len(joined()) > width:
                parts.pop(drop, None)
        if len(joined()) > width and "delay" in parts:
            parts["delay"] = f"delay {delays[-1] * 1000:.0f} ms"
    text = Text(joined(), style="dim", no_wrap=True, overflow="ellipsis")
    return text


def thresholds_in_force(state: ViewState, info: PanelInfo) -> tuple[float, float | None]:
    """The thresholds asked for at connect, or the ones a ConfigureSuccess confirmed since."""
    eot = state.thresholds.get("eot_threshold", info.eot_threshold)
    eager = state.thresholds.get("eager_eot_threshold", info.eager_eot_threshold)
    return eot, eager


def build_panel(
    state: ViewState, info: PanelInfo, width: int | None = None, footer: str | None = None
) -> RenderableType:
    """The whole panel for one state: pure, so tests render it on a recording console."""
    current = state.current
    if current is None:
        head = Text("listening…", style="dim")
    else:
        head = Text(f"turn {current.index} · ", style="bold")
        head.append(current.state, style=STATE_STYLES.get(current.state, "bold"))
        head.append(f"  {time_span(current)}", style="cyan")
    body = turn_text(current) if current is not None else Text("")
    eot, eager = thresholds_in_force(state, info)
    if width is None:  # as wide as it takes (tests, a recording console)
        bars = [confidence_bar(state.end_of_turn_confidence, eot, eager),
                progress_line(state, info), status_line(state, info)]
    else:
        inner = width - 4  # the panel's borders and padding
        bars = [confidence_bar(state.end_of_turn_confidence, eot, eager, inner),
                progress_line(state, info, inner), status_line(state, info, inner)]
    rows: list[RenderableType] = [head, body, Text(""), *bars]
    for notice in state.notices[-3:]:
        rows.append(Text(f"{notice.kind}: {notice.text}", style=NOTICE_STYLES.get(notice.kind, "")))
    if footer:
        rows.append(Text(footer, style="dim", no_wrap=True, overflow="ellipsis"))
    return Panel(Group(*rows), title="flux", title_align="left", width=width)


class ThrottledLive:
    """A transient Rich ``Live`` redrawn at most every ``min_interval_s`` unless forced.

    Shared by the single-stream and the channels' panels: lines printed on the console while it
    runs land above the panel, and stopping it leaves no panel behind.
    """

    def __init__(self, console: Console, min_interval_s: float) -> None:
        self.console = console
        self.min_interval_s = min_interval_s
        self._live: Live | None = None
        self._last_draw = 0.0

    @property
    def running(self) -> bool:
        return self._live is not None

    def ensure(self, make: Callable[[], RenderableType]) -> Live:
        if self._live is None:
            self._live = Live(
                make(),
                console=self.console,
                auto_refresh=False,
                transient=True,
                redirect_stdout=False,
                redirect_stderr=False,
            )
            self._live.start(refresh=True)
        return self._live

    def draw(self, make: Callable[[], RenderableType], force: bool) -> None:
        now = time.monotonic()
        if not force and now - self._last_draw < self.min_interval_s:
            return
        self._last_draw = now
        self.ensure(make).update(make(), refresh=True)

    def stop(self, last: RenderableType | None = None) -> None:
        if self._live is not None:
            if last is not None:
                self._live.update(last, refresh=True)
            self._live.stop()
            self._live = None


class LiveOutput:
    """A ``display.Output`` that draws on a Rich console (stdout in a terminal)."""

    def __init__(self, console: Console, info: PanelInfo, *, min_interval_s: float = 0.08) -> None:
        self.console = console
        self.info = info
        self._live = ThrottledLive(console, min_interval_s)
        self.footer: Callable[[], str] | None = None  # e.g. the keys, and what the last did

    @classmethod
    def on_stream(cls, stream: TextIO, info: PanelInfo) -> LiveOutput:
        """A panel on ``stream`` (Rich detects the terminal and honours NO_COLOR)."""
        return cls(Console(file=stream), info)

    def _panel(self, state: ViewState) -> RenderableType:
        footer = self.footer() if self.footer is not None else None
        width = max(40, self.console.width - RIGHT_MARGIN)
        return build_panel(state, self.info, width=width, footer=footer)

    def _draw(self, state: ViewState, force: bool) -> None:
        self._live.draw(lambda: self._panel(state), force)

    def _print(self, finished: Sequence[Turn], notices: Sequence[Notice]) -> None:
        """Lines above the panel keep the panel's right margin: a line that filled the
        terminal would make it wrap the cursor, and the live panel would be redrawn one line
        off (seen at 120 and 60 columns)."""
        width = max(20, self.console.width - RIGHT_MARGIN)
        for notice in notices:
            style = NOTICE_STYLES.get(notice.kind, "")
            self.console.print(Text(f"{notice.kind}: {notice.text}", style=style), width=width)
        for turn in finished:
            self.console.print(finished_row(turn), width=width)

    def update(self, state: ViewState, finished: Sequence[Turn], notices: Sequence[Notice]) -> None:
        self._live.ensure(lambda: self._panel(state))
        self._print(finished, notices)
        self._draw(state, force=bool(finished or notices))

    def tick(self, state: ViewState) -> None:
        self._draw(state, force=False)

    def close(self, state: ViewState, finished: Sequence[Turn], notices: Sequence[Notice]) -> None:
        if self._live.running:
            self._live.stop(self._panel(state))
        self._print(finished, notices)
        self.console.print(status_line(state, self.info, self.console.width - RIGHT_MARGIN))
