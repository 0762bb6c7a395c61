"""Turns of several concurrent streams (one per channel) put back in audio-time order.

Each channel's connection runs at its own pace, so channel B may report a turn that started
at 5 s while channel A is still inside a turn that started at 3 s. A turn is released only
when no channel can still produce one that starts earlier: a channel's *bound* is the start
of its turn in progress, else how far its audio has been transcribed (``audio_window_end``),
or infinity once it is done. Pure: the caller gives the bounds; tests use literals.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Mapping

from flux_cli.render.state import Turn, ViewState

DONE = float("inf")


def bound_of(state: ViewState, done: bool) -> float:
    """The earliest audio time at which this channel's next finished turn can start."""
    if done:
        return DONE
    if state.current is not None:
        return min(state.current.start, state.audio_window_end)
    return state.audio_window_end


class TimeOrderMerger:
    """Holds finished turns until every channel has moved past their start, then emits them."""

    def __init__(self, order: list[str], emit: Callable[[str, Turn], None]) -> None:
        self.rank = {name: i for i, name in enumerate(order)}
        self.emit = emit
        self._heap: list[tuple[float, int, int, str, Turn]] = []
        self._seq = itertools.count()

    def add(self, name: str, turn: Turn) -> None:
        heapq.heappush(self._heap, (turn.start, self.rank[name], next(self._seq), name, turn))

    def release(self, bounds: Mapping[str, float]) -> None:
        """Emit every held turn that starts no later than all channels' bounds."""
        limit = min(bounds.values(), default=DONE)
        while self._heap and self._heap[0][0] <= limit:
            _, _, _, name, turn = heapq.heappop(self._heap)
            self.emit(name, turn)

    def flush(self) -> None:
        self.release({})

    @property
    def held(self) -> int:
        return len(self._heap)
