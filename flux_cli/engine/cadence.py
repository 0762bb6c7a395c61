"""The ``Update`` cadence: a ``TurnInfo`` for about every 0.25 s of audio received.

A state-change event sent within a tick replaces that tick's ``Update`` (PROTOCOL_NOTES).
"""

from __future__ import annotations

from flux_cli.engine.interfaces import SAMPLE_RATE

TICK = SAMPLE_RATE // 4


class UpdateCadence:
    """Ticks at 0.25, 0.50, ... s of audio; remembers whether an event filled the tick."""

    def __init__(self) -> None:
        self.next_tick = TICK
        self.tick_start = 0  # where the current tick began (an idle Update's window start)
        self._event_in_tick = False

    def event_sent(self) -> None:
        self._event_in_tick = True

    def due(self, pos: int) -> bool:
        return pos >= self.next_tick

    def update_needed(self) -> bool:
        """At a due tick: no event went out in it, so an ``Update`` must."""
        return not self._event_in_tick

    def advance(self, pos: int) -> None:
        while self.next_tick <= pos:
            self.next_tick += TICK
        self.tick_start = pos
        self._event_in_tick = False
