"""flux-general-multi end to end: Whisper base from its PyPI wheels, real sockets, committed
espeak-ng speech in English and Spanish (``samples/make_multilingual.py``).

Whisper base mishears robotic espeak speech (the check set's WER is in the benchmark), so the
tests assert what the protocol promises (languages reported, hints echoed and honoured,
refusals) and the language of turns, never exact transcripts.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
from conftest import timeout
from helpers.cli import flux
from helpers.e2e import RATE, encode, ends, run_items, run_stream
from helpers.serve_process import http_get, start
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from flux_cli.server.embedded import EmbeddedServer, start_embedded_server

pytestmark = pytest.mark.slow  # real models or processes: the full tier

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
LABELS = json.loads((SAMPLES / "multilingual" / "labels.json").read_text())
MULTI = "model=flux-general-multi&encoding=linear16&sample_rate=16000"


def load(path: Path) -> np.ndarray:
    audio, rate = sf.read(path, dtype="float32")
    assert rate == RATE
    return np.asarray(audio, dtype=np.float32)


@pytest.fixture(scope="module")
def server() -> Iterator[EmbeddedServer]:
    statuses: list[str] = []
    running = start_embedded_server(on_status=statuses.append, asr="base")
    assert any("Whisper base" in line for line in statuses)
    yield running
    running.close()


def url(server: EmbeddedServer, query: str) -> str:
    return f"{server.url}?{query}"


def turns(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [m for m in messages if m.get("type") == "TurnInfo"]


def test_status_says_which_whisper_and_which_models(server: EmbeddedServer) -> None:
    status_url = server.url.replace("ws://", "http://").replace("/v2/listen", "/v1/status")
    with urllib.request.urlopen(status_url, timeout=timeout(10)) as response:
        models = json.loads(response.read())["models"]
    assert models["asr"] == "base"
    assert "multilingual" in models["speech_recognition"]
    assert models["listen"] == ["flux-general-en", "flux-general-multi"]
    assert sorted(models["languages"]) == sorted(["en", "es", "fr", "de", "hi", "ru", "pt", "ja",
                                                  "it", "nl"])


def test_a_language_switch_inside_a_call_is_reported_per_turn(server: EmbeddedServer) -> None:
    expected = [t["language"] for t in LABELS["calls"]["switch_en_es.flac"]]
    audio = load(SAMPLES / "multilingual" / "switch_en_es.flac")
    messages = run_stream(url(server, MULTI), encode(audio, "linear16", RATE))
    infos = turns(messages)
    assert infos and all(isinstance(m.get("languages"), list) for m in infos)
    assert all(m["languages_hinted"] == [] for m in infos)
    # an Update before anyone speaks has no language; every turn with words has one
    assert all(m["languages"] for m in infos if m["transcript"])
    found = [m["languages"][0] for m in ends(messages)]
    assert len(found) == len(expected)
    assert sum(a == b for a, b in zip(found, expected, strict=True)) >= len(expected) - 1
    assert {"en", "es"} <= set(found)


def test_a_hint_is_echoed_and_keeps_spanish_turns_spanish(server: EmbeddedServer) -> None:
    audio = load(SAMPLES / "spanish.wav")
    messages = run_stream(url(server, MULTI + "&language_hint=es"),
                          encode(audio, "linear16", RATE))
    infos = turns(messages)
    assert all(m["languages_hinted"] == ["es"] for m in infos)
    finals = ends(messages)
    assert finals and all(m["languages"][0] == "es" for m in finals)
    text = " ".join(m["transcript"] for m in finals).lower()
    assert "mesa" in text and "gracias" in text


def test_configure_changes_the_hints_mid_stream_and_refuses_unknown_ones(
    server: EmbeddedServer,
) -> None:
    spanish = load(SAMPLES / "multilingual" / "es_0_espeak.flac")
    gap = np.zeros(RATE * 2, dtype=np.float32)
    first = encode(np.concatenate([gap[: RATE // 2], spanish, gap]), "linear16", RATE)
    second = encode(np.concatenate([spanish, gap]), "linear16", RATE)
    messages = run_items(url(server, MULTI + "&language_hint=en"), [
        first,  # in order with the audio: before the second clip
        json.dumps({"type": "Configure", "language_hints": ["xx"]}),
        json.dumps({"type": "Configure", "language_hints": ["es", "pt-BR"]}),
        second,
    ])
    failure = next(m for m in messages if m["type"] == "ConfigureFailure")
    assert "xx" in failure["description"]
    success = next(m for m in messages if m["type"] == "ConfigureSuccess")
    assert success["language_hints"] == ["es", "pt-BR"]
    at = messages.index(success)
    before, after = turns(messages[:at]), turns(messages[at:])
    assert before and all(m["languages_hinted"] == ["en"] for m in before)
    assert after and all(m["languages_hinted"] == ["es", "pt-BR"] for m in after)
    assert ends(messages[at:]) and ends(messages[at:])[-1]["languages"][0] == "es"


@pytest.mark.parametrize("query,reason", [
    ("model=flux-general-multi&language_hint=xx", "not a language of flux-general-multi"),
    ("model=flux-general-en&language_hint=es", "language_hint is only accepted"),
])
def test_unknown_languages_and_hints_on_the_english_model_are_refused(
    server: EmbeddedServer, query: str, reason: str
) -> None:
    with pytest.raises(InvalidStatus) as info, connect(url(server, query),
                                                        open_timeout=timeout(20)):
        pass
    response = info.value.response
    assert response.status_code == 400
    assert reason in response.headers["dg-error"]


def test_the_english_model_on_a_multilingual_whisper_decodes_english(
    server: EmbeddedServer,
) -> None:
    spanish = load(SAMPLES / "multilingual" / "es_0_espeak.flac")
    audio = np.concatenate([np.zeros(RATE // 2, np.float32), spanish,
                            np.zeros(RATE * 2, np.float32)])
    messages = run_stream(url(server, "model=flux-general-en&encoding=linear16&sample_rate=16000"),
                          encode(audio, "linear16", RATE))
    infos = turns(messages)
    assert infos and not any("languages" in m or "languages_hinted" in m for m in infos)
    text = " ".join(m["transcript"] for m in ends(messages)).lower()
    assert text and "quiero" not in text and "mesa" not in text  # English words, not Spanish


def test_flux_transcribe_spanish_offline_with_a_hint() -> None:
    result = flux("transcribe", str(SAMPLES / "spanish.wav"), "--model", "flux-general-multi",
                  "--language-hint", "es", "--fast", "--output", "json")
    assert result.returncode == 0, result.stderr
    assert "using the local engine (Whisper base)" in result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    assert lines and all(line["languages"][0] == "es" for line in lines)
    assert "mesa" in " ".join(line["transcript"] for line in lines).lower()


def test_serve_without_a_complete_model_package_exits_6_naming_the_reason() -> None:
    result = flux("serve", "--port", "0", "--asr", "small")
    assert result.returncode == 6
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("flux: error: Whisper small")
    assert "--asr base" in lines[0]


def test_flux_serve_asr_base_names_its_model_and_serves_the_multi_model() -> None:
    server = start("--asr", "base", "--workers", "2", "--max-streams", "4")
    try:
        assert "loading the local engine (Whisper base, Silero VAD, Smart Turn)" \
            in server.stderr_text()
        assert "(Whisper base; max 4 streams over 2 workers" in server.stderr_text()
        status, body, _ = http_get(server.port, "/v1/status")
        assert status == 200 and json.loads(body)["models"]["asr"] == "base"
        audio = load(SAMPLES / "multilingual" / "es_1_espeak.flac")
        padded = np.concatenate([np.zeros(RATE // 2, np.float32), audio,
                                 np.zeros(RATE * 2, np.float32)])
        messages = run_stream(f"{server.url}?{MULTI}&language_hint=es",
                              encode(padded, "linear16", RATE))
        finals = ends(messages)
        assert finals and finals[0]["languages"] == ["es"]
        assert finals[0]["languages_hinted"] == ["es"]
    finally:
        server.signal()
        assert server.wait(60) == 0
