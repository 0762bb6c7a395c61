"""A quiet phone call sent as µ-law at 8 kHz, end to end: real models, real sockets.

Phone-band speech has nothing under 300 Hz but the codec's offset, and Silero VAD hears that
offset (``flux_cli/audio/dc_block.py``): before 8 kHz streams lost it, the engine dropped the
first words of a quiet turn and the whole second sentence of another. The call is built from
committed clips (``tests/data/speech``): a floor of hiss, the phone band (300-3400 Hz), the
speech at -36 dBFS, and the bytes G.711-encoded with the reference rounding (CPython's
``audioop`` and the CLI encode the same bytes).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr
from helpers.e2e import ends, overlap, query_url, run_stream

from flux_cli.audio.encoding import encode
from flux_cli.server.embedded import EmbeddedServer, start_embedded_server

pytestmark = pytest.mark.slow  # real models or processes: the full tier

SPEECH = Path(__file__).resolve().parent / "data" / "speech"
PHONE_RATE = 8000
TURNS = {
    "order_calling": "I am calling about my order from last week.",
    "thank_you_awb": "Thank you so much. That is all I needed.",
}


@pytest.fixture(scope="module")
def server() -> Iterator[EmbeddedServer]:
    running = start_embedded_server(on_status=lambda _: None)
    yield running
    running.close()


def phone_line(audio: np.ndarray, rate: int, rng: np.random.Generator) -> np.ndarray:
    """What a phone line leaves of ``audio`` (with its hiss): 8 kHz, 300-3400 Hz, -36 dBFS."""
    loud = audio[np.abs(audio) > 1e-3]
    rms = float(np.sqrt(np.mean(loud**2)))
    hissy = audio + rng.normal(0.0, 0.02 * rms, audio.size).astype(np.float32)
    narrow = soxr.resample(hissy, rate, PHONE_RATE)
    spectrum = np.fft.rfft(narrow)
    freqs = np.fft.rfftfreq(narrow.size, 1 / PHONE_RATE)
    spectrum[(freqs < 300) | (freqs > 3400)] = 0
    band = np.fft.irfft(spectrum, n=narrow.size)
    level = np.sqrt(np.mean(band[np.abs(band) > 1e-3 * np.max(np.abs(band))] ** 2))
    return np.asarray(band / level * 10 ** (-36 / 20), dtype=np.float32)


def call(name: str) -> np.ndarray:
    audio, rate = sf.read(SPEECH / f"{name}.wav", dtype="float32")
    padded = np.concatenate([np.zeros(rate // 2, np.float32), audio,
                             np.zeros(rate * 2, np.float32)])
    return phone_line(padded, rate, np.random.default_rng(1))


@pytest.mark.parametrize("name", sorted(TURNS))
def test_a_quiet_phone_turn_is_heard_whole(server: EmbeddedServer, name: str) -> None:
    payload = encode(call(name), "mulaw")
    messages = run_stream(query_url(server, f"encoding=mulaw&sample_rate={PHONE_RATE}"),
                          payload, frame=160)
    got = ends(messages)
    assert len(got) == 1, [e["transcript"] for e in got]
    assert overlap(TURNS[name], got[0]["transcript"]) >= 0.85, got[0]["transcript"]
