"""``--multichannel`` in a terminal: one live line per channel, finished turns above, labelled.

Each channel's line shows its state, its end-of-turn confidence and the end of its current
transcript (the newest words, cut on the left so the line never wraps). The progress and
status lines are the single-stream panel's, over all channels together.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import TextIO

from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.text import Text

from flux_cli.render.live import (
    RIGHT_MARGIN,
    STATE_STYLES,
    PanelInfo,
    ThrottledLive,
    finished_row,
    progress_line,
    status_line,
)
from flux_cli.render.state import Turn, ViewState


def combined(states: Mapping[str, ViewState]) -> ViewState:
    """One state for the shared lines: all messages and turns, the audio every channel sent."""
    views = list(states.values())
    turns = tuple(t for v in views for t in v.turns)
    return replace(
        ViewState(),
        turns=turns,
        messages=sum(v.messages for v in views),
        audio_sent_s=min((v.audio_sent_s for v in views), default=0.0),
        input_done=all(v.input_done for v in views),
    )


def channel_line(name: str, state: ViewState, width: int, name_width: int) -> Text:
    """``caller  speaking  0.42  …would like to book a cleaning``, never wider than ``width``."""
    line = Text(f"{name:<{name_width}}  ", style="bold")
    current = state.current
    label = current.state if current is not None else "listening"
    line.append(f"{label:<9}", style=STATE_STYLES.get(label, "dim"))
    line.append(f"  {state.end_of_turn_confidence:.2f}  ", style="dim")
    room = width - len(line.plain)
    text = current.transcript if current is not None else ""
    if room > 1 and len(text) > room:
        text = "…" + text[-(room - 1) :]
    line.append(text[: max(0, room)])
    return line


def build_multi_panel(
    states: Mapping[str, ViewState], info: PanelInfo, width: int
) -> RenderableType:
    inner = width - 4  # borders and padding
    name_width = max((len(n) for n in states), default=3)
    rows: list[RenderableType] = [
        channel_line(name, state, inner, name_width) for name, state in states.items()
    ]
    together = combined(states)
    rows += [
        Text(""),
        progress_line(together, info, inner),
        status_line(together, info, inner),
    ]
    return Panel(Group(*rows), title="flux · channels", title_align="left", width=width)


class MultiLiveOutput:
    """Draws the channels' panel; ``turn`` prints a finished turn above it, labelled."""

    def __init__(self, console: Console, info: PanelInfo, *, min_interval_s: float = 0.08) -> None:
        self.console = console
        self.info = info
        self._live = ThrottledLive(console, min_interval_s)

    @classmethod
    def on_stream(cls, stream: TextIO, info: PanelInfo) -> MultiLiveOutput:
        return cls(Console(file=stream), info)

    def _panel(self, states: Mapping[str, ViewState]) -> RenderableType:
        return build_multi_panel(states, self.info, max(40, self.console.width - RIGHT_MARGIN))

    def turn(self, name: str, turn: Turn) -> None:
        self.console.print(finished_row(turn, name))

    def draw(self, states: Mapping[str, ViewState], force: bool = False) -> None:
        self._live.draw(lambda: self._panel(states), force)

    def close(self, states: Mapping[str, ViewState]) -> None:
        self._live.stop()
        width = self.console.width - RIGHT_MARGIN
        self.console.print(status_line(combined(states), self.info, width))
