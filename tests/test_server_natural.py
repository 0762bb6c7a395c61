"""Turns on natural prosody, end to end: real models, real sockets, committed hibari speech.

The clips (``tests/data/make_natural_speech.py``) are one neural voice with real sentence
intonation, cut at a word boundary so the words before each inside pause keep their
mid-sentence prosody; the two-party clip hands over to another voice after 300 ms.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
from helpers.e2e import encode, ends, overlap, query_url, run_stream

from flux_cli.server.embedded import EmbeddedServer, start_embedded_server

pytestmark = pytest.mark.slow  # real models or processes: the full tier

NATURAL = Path(__file__).resolve().parent / "data" / "natural"
INFO: dict[str, Any] = json.loads((NATURAL / "natural.json").read_text())
RATE = 16000


@pytest.fixture(scope="module")
def server() -> Iterator[EmbeddedServer]:
    running = start_embedded_server(on_status=lambda _: None)
    yield running
    running.close()


def stream(server: EmbeddedServer, name: str) -> list[dict[str, Any]]:
    audio, rate = sf.read(NATURAL / f"{name}.wav", dtype="float32")
    assert rate == RATE
    payload = encode(np.asarray(audio, dtype=np.float32), "linear16", RATE)
    return run_stream(query_url(server, "encoding=linear16&sample_rate=16000"), payload)


@pytest.mark.parametrize("name", ["table_pause", "maybe_pause"])
def test_an_inside_pause_with_natural_prosody_does_not_end_the_turn(
    server: EmbeddedServer, name: str
) -> None:
    info = INFO[name]
    got = ends(stream(server, name))
    assert len(got) == 1, [e["transcript"] for e in got]
    assert got[0]["audio_window_end"] > info["pause_s"][1]
    assert overlap(info["text"], got[0]["transcript"]) >= 0.7


def test_two_parties_300_ms_apart_give_two_turns(server: EmbeddedServer) -> None:
    info = INFO["two_party"]
    (_, first_end), (second_start, _) = info["turns_s"]
    got = ends(stream(server, "two_party"))
    assert len(got) == 2, [e["transcript"] for e in got]
    first, second = got
    # ended before the second speaker had spoken 250 ms, with the first speaker's words only
    assert first_end <= first["audio_window_end"] <= second_start + 0.25
    assert overlap(info["texts"][0], first["transcript"]) >= 0.7
    assert "stream" not in first["transcript"].lower()
    assert "order" in first["transcript"].lower()
    assert overlap(info["texts"][1], second["transcript"]) >= 0.5


def test_a_quiet_short_first_word_starts_a_turn(server: EmbeddedServer) -> None:
    messages = stream(server, "quiet_yes")
    starts = [m for m in messages if m.get("event") == "StartOfTurn"]
    assert len(starts) == 1 and starts[0]["transcript"]  # tiny.en's first guess: "Yeah."
    assert starts[0]["audio_window_start"] == pytest.approx(0.5, abs=0.15)
    got = ends(messages)
    assert len(got) == 1 and "yes" in got[0]["transcript"].lower()
