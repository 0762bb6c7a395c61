"""The view reducer, fed literal server messages."""

from __future__ import annotations

import json
from typing import Any

from flux_cli import protocol
from flux_cli.render import state as view
from flux_cli.render.state import ViewState, apply, finish


def msg(data: dict[str, Any]) -> protocol.ServerMessage:
    return protocol.parse_server_message(json.dumps(data))


def turn_info(
    event: str,
    index: int,
    start: float,
    end: float,
    transcript: str,
    conf: float = 0.1,
    trigger: str | None = None,
    confidences: list[float] | None = None,
) -> protocol.ServerMessage:
    words = transcript.split()
    confs = confidences or [0.9] * len(words)
    data: dict[str, Any] = {
        "type": "TurnInfo",
        "request_id": "r1",
        "sequence_id": 1,
        "event": event,
        "turn_index": index,
        "audio_window_start": start,
        "audio_window_end": end,
        "transcript": transcript,
        "words": [{"word": w, "confidence": c} for w, c in zip(words, confs, strict=True)],
        "end_of_turn_confidence": conf,
    }
    if trigger:
        data["trigger"] = trigger
    return msg(data)


def run(*messages: protocol.ServerMessage | None) -> ViewState:
    state = ViewState()
    for message in messages:
        state = apply(state, message)
    return state


def test_a_full_turn_with_eager_end_and_resume() -> None:
    state = run(
        msg({"type": "Connected", "request_id": "abc", "sequence_id": 0}),
        turn_info("Update", 0, 0.0, 0.25, ""),
        turn_info("StartOfTurn", 0, 0.2, 0.5, "Hello"),
    )
    assert state.request_id == "abc"
    assert state.current is not None and state.current.state == view.SPEAKING
    state = apply(state, turn_info("EagerEndOfTurn", 0, 0.2, 1.0, "Hello there.", conf=0.55))
    assert state.current is not None and state.current.state == view.EAGER
    assert state.end_of_turn_confidence == 0.55
    state = apply(state, turn_info("TurnResumed", 0, 0.2, 1.25, "Hello there, Sam"))
    assert state.current is not None and state.current.state == view.RESUMED
    state = apply(state, turn_info("Update", 0, 0.2, 1.5, "Hello there, Sam."))
    assert state.current is not None and state.current.state == view.RESUMED
    state = apply(
        state,
        turn_info("EndOfTurn", 0, 0.2, 1.75, "Hello there, Sam.", conf=0.8, trigger="model"),
    )
    assert state.current is None
    assert len(state.turns) == 1
    done = state.turns[0]
    assert (done.index, done.start, done.end) == (0, 0.2, 1.75)
    assert done.transcript == "Hello there, Sam."
    assert done.finished and done.trigger == "model" and done.state == view.ENDED
    assert state.messages == 7
    assert state.counts == {"Connected": 1, "TurnInfo": 6}


def test_idle_updates_do_not_open_a_turn() -> None:
    state = run(turn_info("Update", 0, 0.0, 0.25, ""), turn_info("Update", 0, 0.25, 0.5, ""))
    assert state.current is None and state.turns == ()
    assert state.audio_window_end == 0.5


def test_unfinished_turn_is_reported_at_the_end() -> None:
    state = run(
        turn_info("StartOfTurn", 0, 0.0, 0.5, "One"),
        turn_info("EndOfTurn", 0, 0.0, 1.0, "One.", trigger="timeout"),
        turn_info("StartOfTurn", 1, 1.5, 2.0, "And"),
        turn_info("Update", 1, 1.5, 2.5, "And then"),
    )
    state = finish(state)
    assert [t.transcript for t in state.turns] == ["One.", "And then"]
    assert [t.finished for t in state.turns] == [True, False]
    assert state.turns[1].end == 2.5
    assert state.ended and state.current is None


def test_a_silent_stream_has_no_unfinished_turn() -> None:
    state = finish(run(turn_info("Update", 0, 0.0, 0.25, "")))
    assert state.turns == ()


def test_unknown_things_become_notices_not_crashes() -> None:
    state = run(
        msg({"type": "Telemetry", "sequence_id": 3, "x": 1}),
        turn_info("StartOfTurn", 0, 0.0, 0.5, "Hi"),
        turn_info("Whisper", 0, 0.0, 0.75, "Hi you"),
        turn_info("EndOfTurn", 0, 0.0, 1.0, "Hi you.", trigger="telepathy"),
        msg(
            {
                "type": "Warning",
                "sequence_id": 5,
                "code": "FORCE_END_TURN_NO_ACTIVE_TURN",
                "description": "no turn",
            }
        ),
        msg(
            {
                "type": "ConfigureSuccess",
                "request_id": "r",
                "sequence_id": 6,
                "thresholds": {"eot_threshold": 0.8},
                "keyterms": [],
            }
        ),
        msg(
            {
                "type": "ConfigureFailure",
                "request_id": "r",
                "sequence_id": 7,
                "code": "BAD",
                "description": "nope",
            }
        ),
        None,
    )
    kinds = [n.kind for n in state.notices]
    texts = " | ".join(n.text for n in state.notices)
    assert "unknown message type 'Telemetry'" in texts
    assert "unknown event 'Whisper'" in texts
    assert "unknown trigger 'telepathy'" in texts
    assert "FORCE_END_TURN_NO_ACTIVE_TURN" in texts
    assert "configure refused: BAD: nope" in texts
    assert kinds.count("unparsable") == 1
    assert state.turns[0].transcript == "Hi you." and state.turns[0].trigger == "telepathy"


def test_error_message_is_kept() -> None:
    state = run(msg({"type": "Error", "sequence_id": 2, "code": "X", "description": "bad"}))
    assert state.error is not None and state.error.code == "X"


def test_a_new_turn_index_closes_a_turn_that_never_ended() -> None:
    state = run(
        turn_info("StartOfTurn", 0, 0.0, 0.5, "First"),
        turn_info("StartOfTurn", 1, 1.0, 1.5, "Second"),
    )
    assert [(t.transcript, t.finished) for t in state.turns] == [("First", False)]
    assert state.current is not None and state.current.transcript == "Second"


def test_server_delay_is_kept_per_turn() -> None:
    state = apply(ViewState(), turn_info("StartOfTurn", 0, 0.0, 0.5, "Hi"), server_delay_s=0.1)
    state = apply(
        state, turn_info("EndOfTurn", 0, 0.0, 1.0, "Hi.", trigger="model"), server_delay_s=0.25
    )
    assert state.turns[0].server_delay_s == 0.25
    assert state.delays_s == [0.25]


def test_low_confidence_words_line_up_with_the_transcript() -> None:
    state = run(
        turn_info("StartOfTurn", 0, 0.0, 1.0, "Call me Ishmael", confidences=[0.9, 0.3, 0.6])
    )
    assert state.current is not None
    assert view.styled_words(state.current) == [("Call", False), ("me", True), ("Ishmael", False)]


def test_time_format() -> None:
    assert view.format_time(1.2) == "00:01.20"
    assert view.format_time(63.456) == "01:03.46"
    assert view.format_time(3725.0) == "1:02:05.00"
    turn = view.Turn(index=0, start=1.2, end=3.45, transcript="x")
    assert view.time_span(turn) == "[00:01.20-00:03.45]"


def test_turn_json_record() -> None:
    state = run(turn_info("EndOfTurn", 2, 1.0, 2.0, "Yes.", trigger="manual"))
    assert state.turns[0].to_dict() == {
        "turn_index": 2,
        "start": 1.0,
        "end": 2.0,
        "transcript": "Yes.",
        "words": [{"word": "Yes.", "confidence": 0.9}],
        "trigger": "manual",
        "finished": True,
    }


def test_languages_of_a_multilingual_stream_reach_every_output() -> None:
    from flux_cli.render.live import PanelInfo, status_line
    from flux_cli.render.plain import json_line, text_line

    def multi(event: str, transcript: str, languages: list[str]) -> protocol.ServerMessage:
        return msg({
            "type": "TurnInfo", "request_id": "r1", "sequence_id": 1, "event": event,
            "turn_index": 0, "audio_window_start": 0.5, "audio_window_end": 2.0,
            "transcript": transcript, "words": [], "end_of_turn_confidence": 0.9,
            "languages": languages, "languages_hinted": ["de", "en"],
        })

    state = run(multi("StartOfTurn", "Guten", ["de"]))
    assert state.current is not None and state.current.languages == ("de",)
    assert state.languages_hinted == ("de", "en")
    info = PanelInfo(source="a.wav", host="127.0.0.1", duration_s=None,
                     eot_threshold=0.7, eager_eot_threshold=None)
    assert "lang de (hints de,en)" in status_line(state, info, width=200).plain
    state = apply(state, multi("EndOfTurn", "Guten Tag, hello", ["de", "en"]))
    done = state.turns[-1]
    assert text_line(done) == "[00:00.50-00:02.00] (de, en) Guten Tag, hello"
    assert json.loads(json_line(done))["languages"] == ["de", "en"]
    # an English-only stream's lines are unchanged
    plain = run(turn_info("EndOfTurn", 0, 0.5, 2.0, "Hello there", trigger="model")).turns[-1]
    assert text_line(plain) == "[00:00.50-00:02.00] Hello there"
    assert "languages" not in json.loads(json_line(plain))
