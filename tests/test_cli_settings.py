"""Flag resolution rules: which server, which output, which URL."""

from __future__ import annotations

import pytest

from flux_cli.errors import UsageError, redact
from flux_cli.protocol import DEFAULT_URL, StreamParams
from flux_cli.transcribe.settings import (
    TranscribeSettings,
    normalise_url,
    resolve_output,
    resolve_url,
    stream_url,
)


def test_which_server() -> None:
    assert resolve_url(None, None, local=False) is None  # local engine
    assert resolve_url(None, "key", local=False) == DEFAULT_URL
    assert resolve_url("ws://h/v2/listen", "key", local=False) == "ws://h/v2/listen"
    assert resolve_url("ws://h/v2/listen", "key", local=True) is None


def test_url_normalisation() -> None:
    assert normalise_url("ws://127.0.0.1:8765") == "ws://127.0.0.1:8765/v2/listen"
    assert normalise_url("wss://api.eu.deepgram.com/") == "wss://api.eu.deepgram.com/v2/listen"
    assert normalise_url("ws://h:1/custom/path") == "ws://h:1/custom/path"
    for bad in ["http://h/v2/listen", "h:8765", "ws:///v2/listen"]:
        with pytest.raises(UsageError):
            normalise_url(bad)


def test_stream_url_appends_the_query() -> None:
    params = StreamParams(keyterm=["a b"])
    assert stream_url("ws://h/v2/listen", params) == (
        "ws://h/v2/listen?model=flux-general-en&encoding=linear16&sample_rate=16000&keyterm=a+b"
    )
    assert stream_url("ws://h/v2/listen?x=1", StreamParams()).startswith("ws://h/v2/listen?x=1&")


def test_output_mode() -> None:
    assert resolve_output("auto", None, stdout_isatty=True) == "live"
    assert resolve_output("auto", None, stdout_isatty=False) == "text"
    assert resolve_output("json", None, stdout_isatty=True) == "json"
    assert resolve_output("auto", "-", stdout_isatty=True) == "none"
    assert resolve_output("auto", "log.jsonl", stdout_isatty=False) == "text"


def test_settings_validation() -> None:
    TranscribeSettings(source="a.wav", url="ws://h").validate()
    for kwargs, fragment in [
        ({"speed": -1.0}, "--speed"),
        ({"chunk_ms": 5000}, "--chunk-ms"),
        ({"channel": -1}, "--channel"),
        ({"jsonl": "-", "output": "text"}, "--jsonl -"),
        ({"params": StreamParams(keyterm=[" "])}, "keyterm"),
    ]:
        with pytest.raises(UsageError, match=fragment):
            TranscribeSettings(source="a.wav", url="ws://h", **kwargs).validate()  # type: ignore[arg-type]


def test_api_key_is_not_in_the_settings_repr() -> None:
    settings = TranscribeSettings(source="a.wav", api_key="very-secret-key")
    assert "very-secret-key" not in repr(settings)


def test_redact() -> None:
    assert redact("Token abc123 and abc123", ["abc123"]) == "Token *** and ***"
