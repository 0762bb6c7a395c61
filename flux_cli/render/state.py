"""What the user is shown, as a pure function of the messages received so far.

``apply(state, message)`` returns a new ``ViewState``; renderers only read it. Keeping the
turn bookkeeping here (and out of the Rich code) means it is tested with literal messages
and every output mode agrees on what a turn is.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from flux_cli import protocol
from flux_cli.protocol import ServerMessage, TurnInfo, Word

LOW_CONFIDENCE = 0.5

# What the current turn is doing, as shown in the live panel.
SPEAKING = "speaking"
EAGER = "eager end"
RESUMED = "resumed"
ENDED = "ended"

_EVENT_STATE = {
    "StartOfTurn": SPEAKING,
    "EagerEndOfTurn": EAGER,
    "TurnResumed": RESUMED,
    "EndOfTurn": ENDED,
}


@dataclass(frozen=True)
class Turn:
    """One turn as last reported; ``finished`` is False for a turn the stream cut short."""

    index: int
    start: float
    end: float
    transcript: str
    words: tuple[Word, ...] = ()
    state: str = SPEAKING
    trigger: str | None = None
    finished: bool = False
    end_of_turn_confidence: float = 0.0
    server_delay_s: float | None = None
    languages: tuple[str, ...] = ()  # detected (flux-general-multi), as last reported

    def to_dict(self) -> dict[str, Any]:
        """The ``--output json`` record of a turn."""
        record: dict[str, Any] = {
            "turn_index": self.index,
            "start": round(self.start, 3),
            "end": round(self.end, 3),
            "transcript": self.transcript,
            "words": [word.to_dict() for word in self.words],
            "trigger": self.trigger,
            "finished": self.finished,
        }
        if self.languages:
            record["languages"] = list(self.languages)
        return record


@dataclass(frozen=True)
class Notice:
    """Something worth showing that is not a transcript: a Warning, an unknown message..."""

    kind: str
    text: str


@dataclass(frozen=True)
class ViewState:
    request_id: str | None = None
    turns: tuple[Turn, ...] = ()
    current: Turn | None = None
    messages: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    end_of_turn_confidence: float = 0.0
    audio_window_end: float = 0.0
    audio_sent_s: float = 0.0
    input_done: bool = False
    notices: tuple[Notice, ...] = ()
    error: protocol.ErrorMessage | None = None
    ended: bool = False
    # thresholds the server confirmed mid-stream (ConfigureSuccess), over the ones asked for
    thresholds: dict[str, float] = field(default_factory=dict)
    languages_hinted: tuple[str, ...] = ()  # the hints in force, as TurnInfo reports them

    @property
    def delays_s(self) -> list[float]:
        return [t.server_delay_s for t in self.turns if t.server_delay_s is not None]


def _notice(state: ViewState, kind: str, text: str) -> tuple[Notice, ...]:
    return (*state.notices, Notice(kind, text))


def _count(state: ViewState, key: str) -> dict[str, int]:
    counts = dict(state.counts)
    counts[key] = counts.get(key, 0) + 1
    return counts


def _close_unfinished(state: ViewState) -> ViewState:
    """Move a turn that was never ended into the list, marked unfinished."""
    current = state.current
    if current is None or not current.transcript.strip():
        return replace(state, current=None)
    return replace(state, turns=(*state.turns, replace(current, finished=False)), current=None)


def _apply_turn(state: ViewState, msg: TurnInfo, delay_s: float | None) -> ViewState:
    state = replace(
        state,
        end_of_turn_confidence=msg.end_of_turn_confidence,
        audio_window_end=max(state.audio_window_end, msg.audio_window_end),
    )
    if msg.languages_hinted is not None:
        state = replace(state, languages_hinted=tuple(msg.languages_hinted))
    if state.current is not None and state.current.index != msg.turn_index:
        state = _close_unfinished(state)
    known = msg.event in protocol.TURN_EVENTS
    if not known:
        state = replace(state, notices=_notice(state, "unknown", f"unknown event {msg.event!r}"))
    if msg.trigger is not None and msg.trigger not in protocol.EOT_TRIGGERS:
        state = replace(
            state, notices=_notice(state, "unknown", f"unknown trigger {msg.trigger!r}")
        )
    previous = state.current
    if previous is None and not msg.transcript and msg.event not in _EVENT_STATE:
        return state  # an idle tick: nothing is being said
    turn_state = _EVENT_STATE.get(msg.event, previous.state if previous else SPEAKING)
    turn = Turn(
        index=msg.turn_index,
        start=msg.audio_window_start,
        end=msg.audio_window_end,
        transcript=msg.transcript,
        words=tuple(msg.words),
        state=turn_state,
        trigger=msg.trigger,
        finished=msg.event == "EndOfTurn",
        end_of_turn_confidence=msg.end_of_turn_confidence,
        # the turn's delay is the EndOfTurn's: an unfinished turn has none to report
        server_delay_s=delay_s if msg.event == "EndOfTurn" else None,
        languages=(
            tuple(msg.languages)
            if msg.languages is not None
            else previous.languages if previous is not None and previous.index == msg.turn_index
            else ()
        ),
    )
    if msg.event == "EndOfTurn":
        return replace(state, turns=(*state.turns, turn), current=None)
    return replace(state, current=turn)


def apply(
    state: ViewState,
    message: ServerMessage | None,
    *,
    server_delay_s: float | None = None,
    problem: str | None = None,
) -> ViewState:
    """The state after one server message (None: a frame that could not be parsed)."""
    if message is None:
        return replace(
            state,
            messages=state.messages + 1,
            counts=_count(state, "unparsable"),
            notices=_notice(state, "unparsable", problem or "unparsable message"),
        )
    state = replace(state, messages=state.messages + 1, counts=_count(state, message.type))
    if isinstance(message, protocol.Connected):
        return replace(state, request_id=message.request_id)
    if isinstance(message, TurnInfo):
        if state.request_id is None and message.request_id:
            state = replace(state, request_id=message.request_id)
        return _apply_turn(state, message, server_delay_s)
    if isinstance(message, protocol.ErrorMessage):
        text = f"{message.code}: {message.description}"
        return replace(state, error=message, notices=_notice(state, "error", text))
    if isinstance(message, protocol.WarningMessage):
        text = f"{message.code}: {message.description}"
        return replace(state, notices=_notice(state, "warning", text))
    if isinstance(message, protocol.ConfigureSuccess):
        confirmed = {
            k: float(v) for k, v in message.thresholds.items() if isinstance(v, int | float)
        }
        shown = ", ".join(f"{k} {v:g}" for k, v in sorted(confirmed.items())) or "unchanged"
        return replace(
            state,
            thresholds={**state.thresholds, **confirmed},
            notices=_notice(state, "configure", f"now {shown}"),
        )
    if isinstance(message, protocol.ConfigureFailure):
        text = f"configure refused: {message.code}: {message.description}"
        return replace(state, notices=_notice(state, "warning", text))
    return replace(
        state, notices=_notice(state, "unknown", f"unknown message type {message.type!r}")
    )


def with_progress(state: ViewState, audio_sent_s: float, input_done: bool) -> ViewState:
    """Record how much audio has gone out (not a message, but the status line shows it)."""
    if audio_sent_s == state.audio_sent_s and input_done == state.input_done:
        return state
    return replace(state, audio_sent_s=audio_sent_s, input_done=input_done)


def finish(state: ViewState) -> ViewState:
    """The stream is over: a turn still open is reported as unfinished."""
    return replace(_close_unfinished(state), ended=True)


def styled_words(turn: Turn) -> list[tuple[str, bool]]:
    """The transcript's tokens, each with whether it is a low-confidence word.

    The transcript is authoritative; word confidences are attached only when the words line
    up with its tokens one to one.
    """
    tokens = turn.transcript.split()
    if len(tokens) != len(turn.words):
        return [(token, False) for token in tokens]
    return [
        (token, word.confidence < LOW_CONFIDENCE)
        for token, word in zip(tokens, turn.words, strict=True)
    ]


def format_time(seconds: float) -> str:
    """``mm:ss.cc`` (``h:mm:ss.cc`` past an hour), as in ``[00:01.20-00:03.45]``."""
    centis = max(0, round(seconds * 100))
    hours, rest = divmod(centis, 360000)
    minutes, rest = divmod(rest, 6000)
    secs, cs = divmod(rest, 100)
    if hours:
        return f"{hours}:{minutes:02d}:{secs:02d}.{cs:02d}"
    return f"{minutes:02d}:{secs:02d}.{cs:02d}"


def time_span(turn: Turn) -> str:
    return f"[{format_time(turn.start)}-{format_time(turn.end)}]"


def replace_request_id(state: ViewState, request_id: str) -> ViewState:
    """The handshake's ``dg-request-id``, known before ``Connected`` arrives."""
    return replace(state, request_id=request_id)
