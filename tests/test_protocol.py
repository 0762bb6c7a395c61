"""The protocol module with literal inputs: what goes on the wire, and what comes back."""

from __future__ import annotations

import json

import pytest

from flux_cli.protocol import (
    CloseStream,
    Configure,
    ConfigureFailure,
    ConfigureSuccess,
    Connected,
    ErrorMessage,
    Finalize,
    ForceEndTurn,
    KeepAlive,
    ParamError,
    ProtocolError,
    StreamParams,
    TurnInfo,
    UnknownMessage,
    WarningMessage,
    Word,
    dumps,
    parse_client_message,
    parse_server_message,
)


def test_default_query_is_minimal_and_ordered() -> None:
    assert StreamParams().to_query() == "model=flux-general-en&encoding=linear16&sample_rate=16000"


def test_query_repeats_lists_and_lowercases_booleans() -> None:
    params = StreamParams(
        eot_threshold=0.8,
        eager_eot_threshold=0.5,
        eot_timeout_ms=3000,
        keyterm=["Deepgram", "Flux API"],
        mip_opt_out=True,
        tag=["a", "b"],
    )
    assert params.to_query() == (
        "model=flux-general-en&encoding=linear16&sample_rate=16000&eot_threshold=0.8"
        "&eager_eot_threshold=0.5&eot_timeout_ms=3000&keyterm=Deepgram&keyterm=Flux+API"
        "&mip_opt_out=true&tag=a&tag=b"
    )


def test_query_round_trips() -> None:
    params = StreamParams(eot_threshold=0.9, keyterm=["x y"], mip_opt_out=False, tag=["t"])
    assert StreamParams.from_query(params.to_query()) == params


def test_container_audio_has_no_encoding() -> None:
    params = StreamParams.from_query("model=flux-general-en")
    assert params.encoding is None
    assert params.sample_rate is None


@pytest.mark.parametrize(
    ("query", "fragment"),
    [
        ("encoding=linear16&sample_rate=16000", "model is required"),
        ("model=nova-3", "model must be one of"),
        ("model=flux-general-en&encoding=mp3&sample_rate=16000", "encoding must be"),
        ("model=flux-general-en&encoding=linear16&sample_rate=22050", "sample_rate must be"),
        ("model=flux-general-en&encoding=linear16", "sample_rate is required"),
        ("model=flux-general-en&eot_threshold=0.4", "eot_threshold must be between 0.5 and 1"),
        ("model=flux-general-en&eot_threshold=abc", "eot_threshold must be a number"),
        ("model=flux-general-en&eager_eot_threshold=0.95", "eager_eot_threshold must be between"),
        (
            "model=flux-general-en&eot_threshold=0.6&eager_eot_threshold=0.7",
            "must not exceed eot_threshold",
        ),
        ("model=flux-general-en&eot_timeout_ms=100", "eot_timeout_ms must be between 500"),
        ("model=flux-general-en&mip_opt_out=True", "mip_opt_out must be true or false"),
        ("model=flux-general-en&language=en", "unknown query parameter 'language'"),
        ("model=flux-general-en&model=flux-general-en", "more than once"),
    ],
)
def test_bad_queries_are_refused_with_a_reason(query: str, fragment: str) -> None:
    with pytest.raises(ParamError, match=fragment):
        StreamParams.from_query(query)


def test_too_many_keyterms() -> None:
    with pytest.raises(ParamError, match="at most 100 keyterms"):
        StreamParams(keyterm=[f"k{i}" for i in range(101)]).validate()


def test_turn_info_round_trip_with_optional_word_times_and_trigger() -> None:
    message = TurnInfo(
        request_id="r",
        sequence_id=7,
        event="EndOfTurn",
        turn_index=2,
        audio_window_start=1.25,
        audio_window_end=3.5,
        transcript="Hello there.",
        words=[Word("Hello", 0.98, 1.3, 1.6), Word("there.", 0.4)],
        end_of_turn_confidence=0.91,
        trigger="model",
    )
    assert parse_server_message(dumps(message)) == message


def test_spec_turn_info_without_trigger_or_word_times() -> None:
    text = json.dumps(
        {
            "type": "TurnInfo",
            "request_id": "r",
            "sequence_id": 1,
            "event": "Update",
            "turn_index": 0,
            "audio_window_start": 0,
            "audio_window_end": 0.24,
            "transcript": "",
            "words": [],
            "end_of_turn_confidence": 0.0,
        }
    )
    parsed = parse_server_message(text)
    assert isinstance(parsed, TurnInfo)
    assert parsed.trigger is None
    assert parsed.words == []


def test_every_server_message_round_trips() -> None:
    for message in (
        Connected("r", 0),
        ErrorMessage(3, "UNPARSABLE_CLIENT_MESSAGE", "bad json"),
        WarningMessage(4, "FORCE_END_TURN_NO_ACTIVE_TURN", "no turn"),
        ConfigureSuccess("r", 5, {"eot_threshold": 0.8}, ["Flux"]),
        ConfigureFailure("r", 6, "INVALID_THRESHOLD", "too low"),
    ):
        assert parse_server_message(dumps(message)) == message


def test_unknown_types_and_events_do_not_crash() -> None:
    unknown = parse_server_message('{"type": "SpeechStarted", "sequence_id": 9, "x": 1}')
    assert isinstance(unknown, UnknownMessage)
    assert unknown.type == "SpeechStarted"
    assert unknown.sequence_id == 9
    odd_event = parse_server_message(
        '{"type":"TurnInfo","request_id":"r","sequence_id":1,"event":"Wobble","turn_index":0,'
        '"audio_window_start":0,"audio_window_end":1,"transcript":"","words":[],'
        '"end_of_turn_confidence":0,"trigger":"psychic"}'
    )
    assert isinstance(odd_event, TurnInfo)
    assert (odd_event.event, odd_event.trigger) == ("Wobble", "psychic")


@pytest.mark.parametrize("text", ["not json", "[1, 2]", '{"type": "TurnInfo"}'])
def test_malformed_server_frames_raise_protocol_error(text: str) -> None:
    with pytest.raises(ProtocolError):
        parse_server_message(text)


def test_client_messages_round_trip() -> None:
    for message in (
        CloseStream(),
        ForceEndTurn(),
        KeepAlive(),
        Finalize(),
        Configure(thresholds={"eot_threshold": 0.8}, keyterms=["Flux"]),
    ):
        assert parse_client_message(dumps(message)) == message
    assert dumps(CloseStream()) == '{"type":"CloseStream"}'


@pytest.mark.parametrize(
    "text",
    ["{", "42", '{"type": "Shout"}', '{"type": "Configure", "keyterms": "one"}'],
)
def test_unparsable_client_messages(text: str) -> None:
    with pytest.raises(ProtocolError):
        parse_client_message(text)


def test_turn_info_carries_the_multilingual_fields_when_present() -> None:
    from flux_cli.protocol import TurnInfo, parse_server_message

    base = {
        "type": "TurnInfo",
        "request_id": "r",
        "sequence_id": 3,
        "event": "Update",
        "turn_index": 0,
        "audio_window_start": 0.0,
        "audio_window_end": 0.5,
        "transcript": "Hola",
        "words": [],
        "end_of_turn_confidence": 0.1,
    }
    multi = parse_server_message(
        json.dumps({**base, "languages": ["es"], "languages_hinted": ["es", "en"]})
    )
    assert isinstance(multi, TurnInfo)
    assert multi.languages == ["es"] and multi.languages_hinted == ["es", "en"]
    assert multi.to_dict()["languages_hinted"] == ["es", "en"]
    plain = parse_server_message(json.dumps(base))
    assert isinstance(plain, TurnInfo) and plain.languages is None
    assert "languages" not in plain.to_dict()


def test_language_hints_and_voice_names() -> None:
    from flux_cli.protocol import ParamError, StreamParams

    params = StreamParams(model="flux-general-multi", language_hint=["de", "en-GB"])
    params.validate()
    assert params.to_query().endswith("&language_hint=de&language_hint=en-GB")
    assert StreamParams.from_query(params.to_query()).language_hint == ["de", "en-GB"]
    with pytest.raises(ParamError, match="needs model=flux-general-multi"):
        StreamParams(language_hint=["de"]).validate()
    with pytest.raises(ParamError, match="text-to-speech voice"):
        StreamParams(model="flux-haley-en").validate()


def test_configure_with_a_huge_integer_is_a_param_error_not_a_crash() -> None:
    from flux_cli.protocol import Configure, ParamError, StreamParams

    with pytest.raises(ParamError, match="finite"):
        StreamParams().configured(Configure(thresholds={"eot_threshold": 10**400}))
