"""The local engine end to end: real models, real sockets, committed flite speech.

One module-scoped embedded server (the same code ``flux transcribe --local`` runs) serves every
test. Whisper tiny.en mishears some synthetic words, so transcripts are compared as word sets
with an overlap floor, never as exact strings, except where two runs must agree exactly
(fast vs paced: the decisions and final decodes are made on the same audio).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
from conftest import timeout
from helpers.e2e import RATE, encode, ends, overlap, query_url, run_stream, words
from helpers.speech import dialogue_info, load_clip
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from flux_cli.engine.models.loader import load_engine
from flux_cli.server.embedded import EmbeddedServer, start_embedded_server

pytestmark = pytest.mark.slow  # real models or processes: the full tier

# The dialogue is committed (tests/data/make_speech.py): agent (slt) and caller (rms) turns,
# each segment trimmed, with 2-2.5 s gaps and a 0.8 s pause inside turn 2 after "and".
DIALOGUE = tuple(dialogue_info()["turns"])
EXPECTED = tuple(str(turn["expected"]) for turn in DIALOGUE)


def silence(seconds: float) -> np.ndarray:
    return np.zeros(round(seconds * RATE), dtype=np.float32)


@dataclass
class Clip:
    audio: np.ndarray
    inside_pause: tuple[float, float]  # where turn 2 pauses after "and", in seconds


@pytest.fixture(scope="module")
def dialogue() -> Clip:
    audio, info = load_clip("dialogue")
    start, end = info["inside_pause_s"]
    return Clip(audio, (float(start), float(end)))


@pytest.fixture(scope="module")
def server() -> Iterator[EmbeddedServer]:
    statuses: list[str] = []
    running = start_embedded_server(on_status=statuses.append)
    assert running.url.startswith("ws://127.0.0.1:") and running.url.endswith("/v2/listen")
    assert statuses
    yield running
    running.close()


# --------------------------------------------------------------------------- helpers


def wav_bytes(audio: np.ndarray, tmp: Path) -> bytes:
    path = tmp / "clip.wav"
    sf.write(path, audio, RATE, subtype="PCM_16")
    return path.read_bytes()


# --------------------------------------------------------------------------- tests


def test_dialogue_turns_words_and_the_inside_pause(server: EmbeddedServer, dialogue: Clip) -> None:
    payload = encode(dialogue.audio, "linear16", RATE)
    messages = run_stream(query_url(server, "encoding=linear16&sample_rate=16000"), payload)
    assert messages[0]["type"] == "Connected"
    assert [m["sequence_id"] for m in messages] == list(range(len(messages)))
    found = ends(messages)
    assert len(found) == len(DIALOGUE), [m["transcript"] for m in found]
    for expected, end in zip(EXPECTED, found, strict=True):
        assert overlap(expected, end["transcript"]) >= 0.7, (expected, end["transcript"])
        assert end["trigger"] == "model"
    # the 0.8 s pause after "and" does not end turn 2: one EndOfTurn holds both halves
    second = found[1]
    assert {"chair", "window"} <= words(second["transcript"])
    assert second["audio_window_start"] < dialogue.inside_pause[0]
    assert second["audio_window_end"] > dialogue.inside_pause[1] + 1.0
    starts = [m for m in messages if m.get("event") == "StartOfTurn"]
    assert len(starts) == len(DIALOGUE) and all(m["transcript"] for m in starts)
    assert [m["turn_index"] for m in found] == [0, 1, 2]
    # Words carry stream times inside their turn
    for end in found:
        for word in end["words"]:
            assert end["audio_window_start"] - 0.3 <= word["start"] <= word["end"]
            assert word["end"] <= end["audio_window_end"] + 0.01
            assert 0.0 <= word["confidence"] <= 1.0


def test_fast_and_paced_give_the_same_turns(server: EmbeddedServer, dialogue: Clip) -> None:
    """Real time (16 s) against as fast as possible: decisions run on audio time."""
    url = query_url(server, "encoding=linear16&sample_rate=16000")
    payload = encode(dialogue.audio, "linear16", RATE)
    fast = ends(run_stream(url, payload))
    paced = ends(run_stream(url, payload, pace_bps=2 * RATE))

    def key(m: dict[str, Any]) -> tuple[str, float, float]:
        return m["transcript"], m["audio_window_start"], m["audio_window_end"]

    assert [key(m) for m in fast] == [key(m) for m in paced]
    assert len(fast) == len(DIALOGUE)


SHORT_TEXT = EXPECTED[0]


@pytest.fixture(scope="module")
def short_clip(dialogue: Clip) -> np.ndarray:
    """Turn 1 only, with silence after it: enough for one EndOfTurn per encoding."""
    first_gap = int((0.6 + 0.5) * RATE)
    audio = dialogue.audio
    speech = np.flatnonzero(np.abs(audio[first_gap:]) > 0.01)
    end = first_gap + speech[np.argmax(np.diff(speech) > RATE)] + 1
    return np.concatenate([audio[:end], silence(3.0)])


@pytest.fixture(scope="module")
def reference(server: EmbeddedServer, short_clip: np.ndarray) -> str:
    url = query_url(server, "encoding=linear16&sample_rate=16000")
    [end] = ends(run_stream(url, encode(short_clip, "linear16", RATE)))
    assert overlap(SHORT_TEXT, end["transcript"]) >= 0.7
    return str(end["transcript"])


@pytest.mark.parametrize(
    ("encoding", "rate", "floor"),
    [
        ("linear32", 16000, 0.9),
        ("mulaw", 16000, 0.7),
        ("alaw", 16000, 0.7),
        ("linear16", 8000, 0.7),
        ("linear16", 48000, 0.9),
    ],
)
def test_every_encoding_reaches_the_same_transcript(
    server: EmbeddedServer, short_clip: np.ndarray, reference: str,
    encoding: str, rate: int, floor: float,
) -> None:
    payload = encode(short_clip, encoding, rate)
    width = {"linear16": 2, "linear32": 4}.get(encoding, 1)
    frame = int(rate * 0.08) * width  # 80 ms frames
    url = query_url(server, f"encoding={encoding}&sample_rate={rate}")
    found = ends(run_stream(url, payload, frame=frame))
    assert len(found) == 1
    assert overlap(reference, found[0]["transcript"]) >= floor, (reference, found)


def test_wav_container_without_encoding(
    server: EmbeddedServer, short_clip: np.ndarray, reference: str, tmp_path: Path
) -> None:
    payload = wav_bytes(short_clip, tmp_path)
    found = ends(run_stream(server.url + "?model=flux-general-en", payload, frame=3000))
    assert len(found) == 1
    assert overlap(reference, found[0]["transcript"]) >= 0.9


def test_odd_frame_sizes_change_nothing(
    server: EmbeddedServer, short_clip: np.ndarray, reference: str
) -> None:
    url = query_url(server, "encoding=linear16&sample_rate=16000")
    [end] = ends(run_stream(url, encode(short_clip, "linear16", RATE), frame=666))
    assert end["transcript"] == reference


def test_bad_query_is_400(server: EmbeddedServer) -> None:
    with pytest.raises(InvalidStatus) as info:
        connect(query_url(server, "encoding=linear16&sample_rate=12345"))
    assert info.value.response.status_code == 400
    assert "sample_rate" in info.value.response.headers["dg-error"]
    assert info.value.response.headers["dg-request-id"]


@pytest.fixture(scope="module")
def keyed_server() -> Iterator[EmbeddedServer]:
    running = EmbeddedServer(load_engine(), api_key="test-key-123")
    running.start()
    yield running
    running.close()


def test_wrong_key_is_401_and_the_right_one_works(keyed_server: EmbeddedServer) -> None:
    url = query_url(keyed_server, "encoding=linear16&sample_rate=16000")
    with pytest.raises(InvalidStatus) as info:
        connect(url, additional_headers={"Authorization": "Token wrong"})
    assert info.value.response.status_code == 401
    assert info.value.response.headers["dg-request-id"]
    with connect(url, additional_headers={"Authorization": "Token test-key-123"}) as ws:
        assert json.loads(ws.recv(timeout=timeout(10)))["type"] == "Connected"


def test_garbage_is_an_error_then_close(server: EmbeddedServer) -> None:
    with connect(query_url(server, "encoding=linear16&sample_rate=16000")) as ws:
        ws.send(bytes(2560))
        ws.send("{]")
        messages = []
        with pytest.raises(ConnectionClosed):
            while True:
                messages.append(json.loads(ws.recv(timeout=timeout(10))))
        assert messages[-1]["type"] == "Error"
        assert messages[-1]["code"] == "UNPARSABLE_CLIENT_MESSAGE"
        assert ws.close_code == 1008
