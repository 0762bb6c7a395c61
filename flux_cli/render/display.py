"""The client's listener: folds messages into the view state and hands the news to outputs.

Outputs (plain lines, the live panel) never see raw messages, only the new state plus the
turns and notices that the last message produced, so they cannot disagree about turns.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Protocol

from flux_cli.client.events import ConnectionInfo, Progress, Received, Reconnect
from flux_cli.render import state as view
from flux_cli.render.jsonl import JsonlLog
from flux_cli.render.state import Notice, Turn, ViewState


class Output(Protocol):
    def update(
        self, state: ViewState, finished: Sequence[Turn], notices: Sequence[Notice]
    ) -> None: ...

    def tick(self, state: ViewState) -> None: ...

    def close(
        self, state: ViewState, finished: Sequence[Turn], notices: Sequence[Notice]
    ) -> None: ...


class Display:
    """Implements ``session_events.Listener``; all calls come from the main thread."""

    def __init__(self, outputs: Sequence[Output], log: JsonlLog | None = None) -> None:
        self.outputs = list(outputs)
        self.log = log
        self.state = ViewState()
        self.connection: ConnectionInfo | None = None
        self._closed = False
        self._logged_request = False

    def _publish(self, new: ViewState, *, closing: bool = False) -> None:
        old, self.state = self.state, new
        finished = new.turns[len(old.turns) :]
        notices = new.notices[len(old.notices) :]
        for output in self.outputs:
            if closing:
                output.close(new, finished, notices)
            else:
                output.update(new, finished, notices)

    def on_connected(self, info: ConnectionInfo) -> None:
        self.connection = info
        if self.log is not None and not self._logged_request:
            self._logged_request = True
            self.log.write_request(info.url, time.time())
        if info.request_id and self.state.request_id is None:
            self.state = view.replace_request_id(self.state, info.request_id)
        for output in self.outputs:
            output.tick(self.state)

    def on_message(self, received: Received) -> None:
        if self.log is not None:
            delay = received.server_delay_s
            sent_at = None if delay is None else received.received_at - delay
            self.log.write(received.raw, received.received_at, sent_at)
        self._publish(
            view.apply(
                self.state,
                received.message,
                server_delay_s=received.server_delay_s,
                problem=received.problem,
            )
        )

    def on_reconnect(self, event: Reconnect) -> None:
        """Say it on stderr / in the panel; a resumed stream also gets its JSONL record."""
        if event.resumed and self.log is not None:
            self.log.write(json.dumps(event.to_dict()), time.time())
        notices = (*self.state.notices, Notice("reconnect", event.describe()))
        self._publish(replace(self.state, notices=notices))

    def on_progress(self, progress: Progress) -> None:
        new = view.with_progress(self.state, progress.audio_sent_s, progress.input_done)
        self.state = new
        for output in self.outputs:
            output.tick(new)

    def close(self) -> None:
        """End of stream, however it ended: report an unfinished turn, stop the outputs."""
        if self._closed:
            return
        self._closed = True
        if self.log is not None:
            self.log.write_end(self.state.audio_sent_s, time.time())
        self._publish(view.finish(self.state), closing=True)
