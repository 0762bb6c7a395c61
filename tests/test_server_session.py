"""The pure TurnSession against scripted fakes: the rules of docs/TURNS.md, no models or sockets."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import pytest
from helpers.server_fakes import (
    PINNED,
    CountingTranscriber,
    FixedSmartTurn,
    LevelVad,
    quiet,
    script,
)

from flux_cli.engine.configure import active_config
from flux_cli.engine.interfaces import SAMPLE_RATE, VAD_WINDOW, Audio, Transcript
from flux_cli.engine.languages import LanguageChoice
from flux_cli.engine.session import TurnSession, has_words
from flux_cli.protocol import (
    CloseStream,
    Configure,
    ConfigureFailure,
    ConfigureSuccess,
    Connected,
    Finalize,
    ForceEndTurn,
    KeepAlive,
    ServerMessage,
    StreamParams,
    TurnInfo,
    WarningMessage,
    Word,
)


def make(
    *,
    ending: str = ".",
    p_smart: float = 0.9,
    query: str = "model=flux-general-en&encoding=linear16&sample_rate=16000",
) -> tuple[TurnSession, CountingTranscriber, FixedSmartTurn]:
    transcriber = CountingTranscriber(ending)
    eot = FixedSmartTurn(p_smart)
    session = TurnSession(
        vad=LevelVad(),
        transcriber=transcriber,
        smart_turn=eot,
        params=StreamParams.from_query(query),
        request_id="req-1",
        config=PINNED,
    )
    return session, transcriber, eot


def run(
    session: TurnSession, audio: Audio, frame: int = 1280, *, close: bool = True
) -> list[ServerMessage]:
    out = session.start()
    for i in range(0, len(audio), frame):
        out += session.feed(audio[i : i + frame])
    if close:
        out += session.control(CloseStream())
    return out


def infos(messages: Sequence[ServerMessage]) -> list[TurnInfo]:
    return [m for m in messages if isinstance(m, TurnInfo)]


def events(messages: Sequence[ServerMessage]) -> list[str]:
    return [m.event for m in infos(messages) if m.event != "Update"]


ONE_TURN = script(("silence", 1.0), ("speech", 1.5), ("silence", 2.0))


def test_connected_first_and_sequence_ids_count_every_message() -> None:
    session, _, _ = make()
    out = run(session, ONE_TURN)
    assert isinstance(out[0], Connected)
    assert out[0].request_id == "req-1"
    assert [m.sequence_id for m in out] == list(range(len(out)))


def test_updates_every_quarter_second_and_empty_before_speech() -> None:
    session, _, _ = make()
    out = run(session, script(("silence", 2.1)), close=False)
    updates = infos(out)
    assert len(updates) == 8
    for i, info in enumerate(updates):
        assert info.event == "Update"
        assert info.transcript == "" and info.words == []
        assert info.turn_index == 0
        assert 0.25 * (i + 1) <= info.audio_window_end < 0.25 * (i + 1) + 0.033
        assert info.audio_window_start < info.audio_window_end


def test_one_turn_start_end_and_window() -> None:
    session, _, _ = make()
    out = infos(run(session, ONE_TURN))
    assert events(out) == ["StartOfTurn", "EndOfTurn"]
    start = next(m for m in out if m.event == "StartOfTurn")
    end = next(m for m in out if m.event == "EndOfTurn")
    assert start.transcript  # never empty
    assert start.audio_window_start == pytest.approx(1.0, abs=0.04)
    assert end.audio_window_start == start.audio_window_start
    assert end.transcript == "alfa bravo charlie delta echo foxtrot."
    assert end.trigger == "model"
    assert end.end_of_turn_confidence >= 0.7
    # model end soon after the speech ends (1.0 + 1.5 s), on audio time
    assert 2.5 < end.audio_window_end < 2.5 + 0.4
    assert end.words[0].start == pytest.approx(1.0, abs=0.04)
    # turn_index increments right after EndOfTurn
    after = [m for m in out if m.sequence_id > end.sequence_id]
    assert after and all(m.turn_index == 1 and m.transcript == "" for m in after)
    assert all(m.turn_index == 0 for m in out if m.sequence_id <= end.sequence_id)


def test_a_tick_with_an_event_has_no_update() -> None:
    session, _, _ = make()
    out = infos(run(session, ONE_TURN, close=False))
    ends = [m.audio_window_end for m in out]
    assert ends == sorted(ends)
    # one TurnInfo per 0.25 s tick, whichever event it carries
    processed = len(ONE_TURN) - len(ONE_TURN) % VAD_WINDOW
    assert len(out) == processed // (SAMPLE_RATE // 4)


def test_updates_during_a_turn_grow_and_confidence_stays_low_while_speaking() -> None:
    session, _, _ = make()
    audio = script(("silence", 0.5), ("speech", 3.0), ("silence", 2.0))
    out = infos(run(session, audio))
    start = next(m for m in out if m.event == "StartOfTurn")
    speaking = [m for m in out if m.event == "Update" and start.sequence_id < m.sequence_id
                and m.audio_window_end < 3.4]
    assert len(speaking) >= 8
    lengths = [len(m.words) for m in speaking]
    assert lengths == sorted(lengths) and lengths[-1] > lengths[0]
    assert all(m.end_of_turn_confidence < 0.1 for m in speaking)


def test_a_burst_that_decodes_to_nothing_starts_no_turn() -> None:
    # 0.2 s of noise decodes to "" (under one word): no StartOfTurn, Updates stay empty
    session, _, _ = make()
    out = infos(run(session, script(("silence", 0.5), ("speech", 0.2), ("silence", 1.5))))
    assert events(out) == []
    assert all(m.transcript == "" for m in out)


def test_an_unfinished_sentence_survives_a_pause_that_ends_a_finished_one() -> None:
    audio = script(("silence", 0.5), ("speech", 1.5), ("silence", 0.9), ("speech", 1.0),
                   ("silence", 2.5))
    finished, _, _ = make(ending=".", p_smart=0.5)
    assert events(run(finished, audio)) == ["StartOfTurn", "EndOfTurn"] * 2
    unfinished, _, _ = make(ending="and", p_smart=0.5)
    out = infos(run(unfinished, audio))
    assert events(out) == ["StartOfTurn", "EndOfTurn"]
    end = next(m for m in out if m.event == "EndOfTurn")
    assert end.transcript.startswith("alfa bravo charlie delta echo")


def test_eager_resumed_eager_end() -> None:
    query = ("model=flux-general-en&encoding=linear16&sample_rate=16000"
             "&eager_eot_threshold=0.5&eot_threshold=0.9")
    session, _, _ = make(query=query, p_smart=0.5)
    audio = script(("silence", 0.5), ("speech", 1.0), ("silence", 0.5), ("speech", 1.0),
                   ("silence", 2.0))
    out = infos(run(session, audio))
    assert events(out) == ["StartOfTurn", "EagerEndOfTurn", "TurnResumed", "EagerEndOfTurn",
                           "EndOfTurn"]
    eagers = [m for m in out if m.event == "EagerEndOfTurn"]
    end = next(m for m in out if m.event == "EndOfTurn")
    assert all(m.transcript for m in eagers)
    assert end.transcript == eagers[-1].transcript
    assert [w.word for w in end.words] == [w.word for w in eagers[-1].words]
    assert end.end_of_turn_confidence >= 0.9
    resumed = next(m for m in out if m.event == "TurnResumed")
    assert resumed.turn_index == end.turn_index == 0


def test_no_eager_events_without_eager_threshold() -> None:
    session, _, _ = make()
    audio = script(("silence", 0.5), ("speech", 1.0), ("silence", 0.5), ("speech", 1.0),
                   ("silence", 2.0))
    assert "EagerEndOfTurn" not in events(run(session, audio))
    assert "TurnResumed" not in events(run(make()[0], audio))


def test_timeout_ends_a_turn_the_model_never_ends() -> None:
    query = ("model=flux-general-en&encoding=linear16&sample_rate=16000"
             "&eot_threshold=1.0&eot_timeout_ms=1000")
    session, _, _ = make(query=query)
    out = infos(run(session, script(("silence", 0.5), ("speech", 1.0), ("silence", 2.0))))
    end = next(m for m in out if m.event == "EndOfTurn")
    assert end.trigger == "timeout"
    assert end.audio_window_end == pytest.approx(2.5, abs=0.05)
    assert end.end_of_turn_confidence < 1.0


def test_force_end_turn_mid_speech_is_manual() -> None:
    session, _, _ = make()
    out = run(session, script(("silence", 0.5), ("speech", 1.5)), close=False)
    forced = session.control(ForceEndTurn())
    assert events(out) == ["StartOfTurn"]
    [end] = infos(forced)
    assert end.event == "EndOfTurn" and end.trigger == "manual"
    assert end.transcript == "alfa bravo charlie delta echo foxtrot."
    more = session.feed(quiet(0.5))
    assert all(m.turn_index == 1 for m in infos(more))


def test_finalize_is_force_end_turn() -> None:
    session, _, _ = make()
    run(session, script(("silence", 0.5), ("speech", 1.0)), close=False)
    [end] = infos(session.control(Finalize()))
    assert end.trigger == "manual"


def test_force_end_turn_without_a_turn_warns() -> None:
    session, _, _ = make()
    run(session, quiet(1.05), close=False)
    [warning] = session.control(ForceEndTurn())
    assert isinstance(warning, WarningMessage)
    assert warning.code == "FORCE_END_TURN_NO_ACTIVE_TURN"
    assert warning.sequence_id == 5  # Connected + 4 Updates before it


def test_keepalive_is_a_noop() -> None:
    session, _, _ = make()
    assert session.control(KeepAlive()) == []


def test_configure_success_returns_the_whole_config_and_applies() -> None:
    session, transcriber, _ = make()
    session.start()
    [ok] = session.control(
        Configure(thresholds={"eot_threshold": 0.8, "eot_timeout_ms": 1500}, keyterms=["Miller"])
    )
    assert isinstance(ok, ConfigureSuccess)
    assert ok.thresholds == {"eot_threshold": 0.8, "eager_eot_threshold": None,
                             "eot_timeout_ms": 1500}
    assert ok.keyterms == ["Miller"]
    run(session, ONE_TURN, close=False)
    assert transcriber.hotwords and all(h == ("Miller",) for h in transcriber.hotwords)


@pytest.mark.parametrize(
    "thresholds",
    [
        {"eot_threshold": 0.2},
        {"eot_threshold": 0.8, "eager_eot_threshold": 0.85},
        {"eot_timeout_ms": 100},
        {"eot_timeout_ms": "5000"},
        {"nonsense": 1},
        {"eot_threshold": True},
    ],
)
def test_configure_failure_changes_nothing(thresholds: dict[str, object]) -> None:
    session, _, _ = make()
    before = active_config(session.params)
    [fail] = session.control(Configure(thresholds=thresholds, keyterms=["x"]))  # type: ignore[arg-type]
    assert isinstance(fail, ConfigureFailure)
    assert fail.description
    assert active_config(session.params) == before
    assert session.params.keyterm == []


def test_configure_too_many_keyterms_fails() -> None:
    session, _, _ = make()
    [fail] = session.control(Configure(keyterms=[f"k{i}" for i in range(101)]))
    assert isinstance(fail, ConfigureFailure)


def test_close_with_unfinished_turn_sends_a_full_update_and_no_end() -> None:
    session, _, _ = make()
    out = infos(run(session, script(("silence", 0.5), ("speech", 1.3))))
    assert events(out) == ["StartOfTurn"]
    last = out[-1]
    assert last.event == "Update"
    assert last.transcript == "alfa bravo charlie delta echo."
    assert last.audio_window_end == pytest.approx(1.8, abs=1e-6)  # every sample, remainder too


def test_close_when_idle_reports_the_remaining_audio() -> None:
    session, _, _ = make()
    out = infos(run(session, quiet(0.6)))
    assert out[-1].event == "Update"
    assert out[-1].audio_window_end == pytest.approx(0.6)
    assert session.feed(quiet(1.0)) == []


def test_two_turns_increment_turn_index() -> None:
    session, _, _ = make()
    audio = script(("silence", 0.5), ("speech", 1.0), ("silence", 2.0), ("speech", 1.0),
                   ("silence", 2.0))
    out = infos(run(session, audio))
    ends = [m for m in out if m.event == "EndOfTurn"]
    assert [m.turn_index for m in ends] == [0, 1]
    starts = [m for m in out if m.event == "StartOfTurn"]
    assert starts[1].audio_window_start == pytest.approx(3.5, abs=0.04)


def comparable(messages: list[ServerMessage]) -> list[dict[str, object]]:
    return [m.to_dict() for m in messages]


def test_chunking_does_not_change_anything() -> None:
    audio = script(("silence", 0.7), ("speech", 1.2), ("silence", 0.6), ("speech", 0.9),
                   ("silence", 2.2), ("speech", 0.8), ("silence", 0.3))
    query = ("model=flux-general-en&encoding=linear16&sample_rate=16000"
             "&eager_eot_threshold=0.5&eot_threshold=0.9")
    a = run(make(query=query, p_smart=0.5)[0], audio, frame=1280)
    b = run(make(query=query, p_smart=0.5)[0], audio, frame=333)
    c = run(make(query=query, p_smart=0.5)[0], audio, frame=len(audio))
    assert comparable(a) == comparable(b) == comparable(c)
    assert events(a) == ["StartOfTurn", "EagerEndOfTurn", "TurnResumed", "EagerEndOfTurn",
                         "EndOfTurn", "StartOfTurn", "EagerEndOfTurn"]


def test_smart_turn_runs_once_per_pause() -> None:
    session, _, eot = make(ending="and", p_smart=0.5)
    run(session, script(("silence", 0.5), ("speech", 1.0), ("silence", 1.0)), close=False)
    assert eot.calls == 1


def test_has_words() -> None:
    assert not has_words("...")
    assert not has_words("")
    assert has_words("5.")


class OneWordTranscriber(CountingTranscriber):
    """Hears "Yes." in any loud audio, however short (a real short word decodes)."""

    def transcribe(
        self, audio: Audio, *, offset_s: float, hotwords: Sequence[str] = (),
        languages: LanguageChoice | None = None,
    ) -> Transcript:
        self.calls += 1
        if not (np.abs(audio) > 0.1).any():
            return Transcript(text="", words=[])
        return Transcript(text="Yes.", words=[Word("Yes.", 0.9, offset_s, offset_s + 0.1)])


@pytest.mark.parametrize(
    ("min_word_s", "starts"), [(PINNED.min_word_speech_s, True), (10.0, False)]
)
def test_a_short_word_below_the_start_minimum_starts_a_turn_once_its_burst_ends(
    min_word_s: float, starts: bool
) -> None:
    # 128 ms of speech: less than min_start_speech_s (192 ms), a whole short word
    audio = script(("silence", 0.5), ("speech", 0.128), ("silence", 2.5))
    session = TurnSession(
        vad=LevelVad(), transcriber=OneWordTranscriber(), smart_turn=FixedSmartTurn(0.9),
        params=StreamParams(), request_id="req-1",
        config=dataclasses.replace(PINNED, min_word_speech_s=min_word_s),
    )
    out = infos(run(session, audio))
    if starts:
        assert events(out) == ["StartOfTurn", "EndOfTurn"]
        assert all(m.transcript == "Yes." for m in out if m.event != "Update")
        start = next(m for m in out if m.event == "StartOfTurn")
        assert start.audio_window_start == pytest.approx(0.5, abs=0.04)
    else:
        assert events(out) == []


class FadingTranscriber(OneWordTranscriber):
    """Hears "Yes." the first time, then nothing (Whisper rejecting a quiet turn later)."""

    def transcribe(
        self, audio: Audio, *, offset_s: float, hotwords: Sequence[str] = (),
        languages: LanguageChoice | None = None,
    ) -> Transcript:
        heard = super().transcribe(audio, offset_s=offset_s, hotwords=hotwords)
        return heard if self.calls == 1 else Transcript(text="", words=[])


def test_an_end_of_turn_keeps_the_words_a_later_empty_decode_would_drop() -> None:
    audio = script(("silence", 0.5), ("speech", 0.4), ("silence", 2.5))
    session = TurnSession(
        vad=LevelVad(), transcriber=FadingTranscriber(), smart_turn=FixedSmartTurn(0.9),
        params=StreamParams(), request_id="req-1", config=PINNED,
    )
    out = infos(run(session, audio))
    assert events(out) == ["StartOfTurn", "EndOfTurn"]
    assert all(m.transcript == "Yes." for m in out if m.event != "Update")


class PaddingTranscriber(OneWordTranscriber):
    """Notes how much audio each decode hears before the first loud sample."""

    def __init__(self) -> None:
        super().__init__()
        self.lead_in: list[float] = []

    def transcribe(
        self, audio: Audio, *, offset_s: float, hotwords: Sequence[str] = (),
        languages: LanguageChoice | None = None,
    ) -> Transcript:
        loud = np.flatnonzero(np.abs(audio) > 0.1)
        self.lead_in.append(loud[0] / SAMPLE_RATE if len(loud) else -1.0)
        return super().transcribe(audio, offset_s=offset_s, hotwords=hotwords)


@pytest.mark.parametrize("silence_s", [0.5, 2.3, 3.35, 6.1])
def test_a_short_words_decode_gets_its_whole_pad_however_long_the_silence_before(
    silence_s: float,
) -> None:
    # the buffer is trimmed a second at a time while nothing is said: what a short word's
    # decode hears before its onset must not depend on where the last trim fell
    audio = script(("silence", silence_s), ("speech", 0.128), ("silence", 2.5))
    transcriber = PaddingTranscriber()
    session = TurnSession(
        vad=LevelVad(), transcriber=transcriber, smart_turn=FixedSmartTurn(0.9),
        params=StreamParams(), request_id="req-1", config=PINNED,
    )
    out = infos(run(session, audio))
    assert events(out) == ["StartOfTurn", "EndOfTurn"]
    assert transcriber.lead_in[0] == pytest.approx(PINNED.short_word_pad_s, abs=0.04)
