"""The Sans-I/O client core fed with literal inputs: no sockets, no threads, no clock."""

from __future__ import annotations

import json
from typing import Any

import pytest

from flux_cli import protocol
from flux_cli.client.core import ClientCore, Phase, SendAudio, SendText, backoff_s
from flux_cli.protocol import ParamError, StreamParams

BPS = 32000.0  # 16 kHz linear16
FRAME = 2560  # 80 ms


def frame(n: int) -> bytes:
    """Frame number ``n``: every byte says which frame it came from."""
    return bytes([n % 256]) * FRAME


def turn_info(event: str, index: int, start: float, end: float, text: str, **extra: Any) -> str:
    words = [{"word": w, "confidence": 0.9, "start": start, "end": end} for w in text.split()]
    return json.dumps(
        {
            "type": "TurnInfo",
            "request_id": "r",
            "sequence_id": 1,
            "event": event,
            "turn_index": index,
            "audio_window_start": start,
            "audio_window_end": end,
            "transcript": text,
            "words": words,
            "end_of_turn_confidence": 0.9,
            **extra,
        }
    )


def texts(items: list[SendAudio | SendText]) -> list[str]:
    return [i.message.type if isinstance(i, SendText) else "audio" for i in items]


def streaming(**kw: Any) -> ClientCore:
    core = ClientCore(BPS, **kw)
    assert core.connection_opened() is None
    return core


def test_audio_goes_out_in_order_with_its_end_time() -> None:
    core = streaming()
    for n in range(3):
        core.audio(frame(n))
    out = core.data_to_send()
    assert [item.data for item in out if isinstance(item, SendAudio)] == [
        frame(n) for n in range(3)
    ]
    assert [item.end_s for item in out if isinstance(item, SendAudio)] == pytest.approx(
        [0.08, 0.16, 0.24]
    )
    assert core.data_to_send() == []


def test_close_ordering_force_end_turn_then_close_stream_once_and_nothing_after() -> None:
    core = streaming(force_end_turn=True)
    core.audio(frame(0))
    core.end_of_input()
    core.end_of_input()
    core.audio(frame(1))  # too late: ignored
    core.stop()
    assert texts(core.data_to_send()) == ["audio", "ForceEndTurn", "CloseStream"]
    assert core.phase is Phase.CLOSING


def test_ctrl_c_sends_close_stream_without_force_end_turn() -> None:
    core = streaming(force_end_turn=True)
    core.stop()
    assert texts(core.data_to_send()) == ["CloseStream"]
    assert not core.force_end_turn()  # closing: nothing more to end


def test_a_resume_resends_the_audio_after_the_last_end_of_turn_and_shifts_times() -> None:
    core = streaming()
    for n in range(20):  # 1.6 s
        core.audio(frame(n))
    core.data_to_send()
    core.receive(turn_info("EndOfTurn", 0, 0.0, 0.8, "Hello there."))
    core.receive(turn_info("StartOfTurn", 1, 1.0, 1.2, "Second"))
    core.connection_lost()
    core.audio(frame(20))  # arrives during the gap: kept, not sent
    assert core.data_to_send() == []
    resume = core.connection_opened()
    assert resume is not None
    assert resume.from_s == pytest.approx(0.8) and resume.turn_offset == 1
    assert resume.resent_s == pytest.approx(1.68 - 0.8)
    sent = b"".join(i.data for i in core.data_to_send() if isinstance(i, SendAudio))
    assert sent == b"".join(frame(n) for n in range(10, 21))  # 0.8 s is exactly frame 10
    event = core.receive(turn_info("EndOfTurn", 0, 0.2, 0.96, "Second turn."))
    message = event.message
    assert isinstance(message, protocol.TurnInfo)
    assert message.turn_index == 1
    assert (message.audio_window_start, message.audio_window_end) == pytest.approx((1.0, 1.76))
    assert message.words[0].start == pytest.approx(1.0)
    raw = json.loads(event.raw)
    assert raw["turn_index"] == 1 and raw["audio_window_end"] == pytest.approx(1.76)
    assert raw["words"][0]["end"] == pytest.approx(1.76)
    assert list(raw) == list(json.loads(turn_info("EndOfTurn", 0, 0, 0, "x")))  # order kept


def test_a_resume_mid_frame_starts_on_a_whole_sample() -> None:
    core = streaming()
    for n in range(5):
        core.audio(frame(n))
    core.receive(turn_info("EndOfTurn", 0, 0.0, 0.1000313, "Hi."))  # 3200.99 bytes in
    core.connection_lost()
    resume = core.connection_opened()
    assert resume is not None
    first = next(i for i in core.data_to_send() if isinstance(i, SendAudio))
    assert len(first.data) == 2 * FRAME - 3200 and resume.from_s == pytest.approx(0.1)


def test_the_first_connection_is_not_shifted_and_keeps_the_raw_text() -> None:
    core = streaming()
    text = turn_info("Update", 0, 0.0, 0.25, "")
    assert core.receive(text).raw == text


def test_the_resend_buffer_is_bounded_and_says_what_it_lost() -> None:
    core = streaming(resend_limit_s=0.4)  # 5 frames
    for n in range(10):
        core.audio(frame(n))
    core.connection_lost()
    resume = core.connection_opened()
    assert resume is not None
    assert resume.lost_s == pytest.approx(0.4) and resume.from_s == pytest.approx(0.4)
    sent = [i.data for i in core.data_to_send() if isinstance(i, SendAudio)]
    assert sent == [frame(n) for n in range(5, 10)]


def test_input_that_ended_before_the_drop_is_closed_again_after_the_resend() -> None:
    core = streaming(force_end_turn=True)
    core.audio(frame(0))
    core.end_of_input()
    core.connection_lost()
    core.connection_opened()
    assert texts(core.data_to_send()) == ["audio", "ForceEndTurn", "CloseStream"]


def test_errors_are_final_and_some_closes_are_worth_resuming() -> None:
    core = streaming()
    assert core.should_resume(None, interrupted=False)  # no close frame
    assert core.should_resume(1011, interrupted=False)
    assert not core.should_resume(1000, interrupted=False)
    assert not core.should_resume(None, interrupted=True)
    core.receive(json.dumps({"type": "Error", "code": "X", "description": "no"}))
    assert core.error is not None and not core.should_resume(None, interrupted=False)
    ogg = ClientCore(None)
    ogg.connection_opened()
    assert not ogg.should_resume(None, interrupted=False)


def test_configure_is_checked_before_it_is_sent_and_reapplied_after_a_resume() -> None:
    core = streaming(params=StreamParams())
    with pytest.raises(ParamError, match="eot_threshold must be between"):
        core.configure(thresholds={"eot_threshold": 2.0})
    with pytest.raises(ParamError, match="needs model=flux-general-multi"):
        core.configure(language_hints=["de"])
    with pytest.raises(ParamError, match="must not exceed"):
        core.configure(thresholds={"eager_eot_threshold": 0.8})  # default eot is 0.7
    assert core.configure(thresholds={"eot_threshold": 0.9}, keyterms=["Flux"]) is not None
    assert texts(core.data_to_send()) == ["Configure"]
    success = {
        "type": "ConfigureSuccess",
        "request_id": "r",
        "sequence_id": 3,
        "thresholds": {"eot_threshold": 0.9},
        "keyterms": ["Flux"],
    }
    core.receive(json.dumps(success))
    assert core.params.eot_threshold == 0.9
    core.connection_lost()
    core.connection_opened()
    first = core.data_to_send()[0]
    assert isinstance(first, SendText) and isinstance(first.message, protocol.Configure)
    assert first.message.thresholds == {"eot_threshold": 0.9}
    assert first.message.keyterms == ["Flux"]


def test_controls_need_an_open_stream() -> None:
    core = ClientCore(BPS)
    assert not core.force_end_turn()
    assert core.configure(thresholds={"eot_threshold": 0.8}) is None
    core.connection_opened()
    assert core.force_end_turn()
    assert texts(core.data_to_send()) == ["ForceEndTurn"]


def test_backoff_doubles_and_is_bounded() -> None:
    assert [backoff_s(n) for n in range(1, 7)] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]


def test_a_resumed_connection_does_not_move_the_timeline_back() -> None:
    core = streaming()
    for n in range(20):
        core.audio(frame(n))
    core.receive(turn_info("EndOfTurn", 0, 0.0, 0.8, "Hello there."))
    core.receive(turn_info("Update", 1, 1.0, 1.44, "Second turn"))
    core.connection_lost()
    resume = core.connection_opened()
    assert resume is not None and resume.catch_up_to_s == pytest.approx(1.44)
    old = core.receive(turn_info("StartOfTurn", 0, 0.2, 0.32, "Second"))
    assert old.superseded  # re-covers audio already shown up to 1.44
    ended = core.receive(turn_info("EndOfTurn", 0, 0.2, 0.6, "Second turn."))
    assert not ended.superseded  # a final result is always passed on ...
    assert isinstance(ended.message, protocol.TurnInfo)
    assert ended.message.audio_window_end == pytest.approx(1.44)  # ... stamped where we were
    assert json.loads(ended.raw)["audio_window_end"] == pytest.approx(1.44)
    later = core.receive(turn_info("Update", 1, 0.8, 0.9, ""))
    assert not later.superseded and later.message.audio_window_end == pytest.approx(1.7)  # type: ignore[union-attr]
