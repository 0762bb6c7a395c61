"""A caller over babble, end to end: real models, a real WebSocket.

Babble (other people talking, 10 dB under the caller) is speech to the VAD, so it hides the
caller's pauses: before the pause gate (``flux_cli/engine/pause_gate.py``) the engine never
ended the caller's first turn, and heard both as one. The call is built from committed clips
(``tests/data/speech``): four other voices, each looped and summed, run through the whole call
10 dB under the caller, who speaks two turns with two seconds of babble alone between them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from helpers.e2e import ends, overlap, query_url, run_stream

from flux_cli.server.embedded import EmbeddedServer, start_embedded_server

pytestmark = pytest.mark.slow  # real models or processes: the full tier

SPEECH = Path(__file__).resolve().parent / "data" / "speech"
RATE = 16000
CALLER = {
    "order_calling": "Hello, I am calling about my order from last week.",
    "order_not_arrived": "It has not arrived yet and the tracking page shows nothing.",
}
CROWD = ("testing_vad", "stream_one", "thank_you_awb", "fox_slt")  # other voices than the caller's
BABBLE_DB = -10.0


@pytest.fixture(scope="module")
def server() -> Iterator[EmbeddedServer]:
    running = start_embedded_server(on_status=lambda _: None)
    yield running
    running.close()


def clip(name: str) -> np.ndarray:
    audio, rate = sf.read(SPEECH / f"{name}.wav", dtype="float32")
    assert rate == RATE
    return np.asarray(audio, dtype=np.float32)


def rms(audio: np.ndarray) -> float:
    voiced = audio[np.abs(audio) > 1e-3]
    return float(np.sqrt(np.mean(voiced**2)))


def babble(seconds: float) -> np.ndarray:
    """Four other voices, each looped from its own offset, summed: speech that never pauses."""
    n = round(seconds * RATE)
    out = np.zeros(n, np.float32)
    for i, name in enumerate(CROWD):
        voice = clip(name)
        voice = voice / rms(voice)
        looped = np.tile(voice, n // voice.size + 2)
        start = (i * voice.size) // len(CROWD)
        out += looped[start: start + n]
    return out / rms(out)


def call() -> tuple[np.ndarray, list[float]]:
    """3 s of babble alone, a turn, 2 s of babble alone, a turn, 2.5 s of babble alone."""
    first, second = (clip(name) for name in CALLER)
    gap = np.zeros(2 * RATE, np.float32)
    caller = np.concatenate([np.zeros(3 * RATE, np.float32), first, gap, second,
                             np.zeros(5 * RATE // 2, np.float32)])
    level = rms(np.concatenate([first, second]))
    crowd = babble(caller.size / RATE) * level * 10 ** (BABBLE_DB / 20)
    first_end = (3 * RATE + first.size) / RATE
    second_start = first_end + gap.size / RATE
    return np.clip(caller + crowd, -1, 1).astype(np.float32), [first_end, second_start]


def test_the_callers_turn_ends_in_the_babble_after_it(server: EmbeddedServer) -> None:
    audio, (first_end, second_start) = call()
    payload = (audio * 32767).astype("<i2").tobytes()
    got = ends(run_stream(query_url(server, "encoding=linear16&sample_rate=16000"), payload))
    texts = [e["transcript"] for e in got]
    first = [e for e in got if overlap(CALLER["order_calling"], e["transcript"]) >= 0.7]
    assert first, texts
    # it ends in the babble after its last word, before the caller speaks again
    assert first_end < first[0]["audio_window_end"] < second_start, texts
    # and the first turn does not carry the second turn's words
    assert overlap(CALLER["order_not_arrived"], first[0]["transcript"]) < 0.3, texts
