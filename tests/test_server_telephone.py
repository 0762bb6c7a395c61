"""A quiet phone call sent as µ-law at 8 kHz, or upsampled to 16 kHz by the client, end to
end: real models, real sockets.

Phone-band speech has nothing under 300 Hz but the codec's offset, and Silero VAD hears that
offset (``flux_cli/audio/dc_block.py``): before 8 kHz streams lost it, the engine dropped the
first words of a quiet turn and the whole second sentence of another. A client that upsamples
the call to 16 kHz keeps the offset in it; the engine finds the stream has nothing above the
phone band and removes it there too (``flux_cli/audio/band_check.py``). The call is built from
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
from helpers.speech import PHONE_RATE, phone_line

from flux_cli.audio.encoding import decode, encode
from flux_cli.server.embedded import EmbeddedServer, start_embedded_server

pytestmark = pytest.mark.slow  # real models or processes: the full tier

SPEECH = Path(__file__).resolve().parent / "data" / "speech"
TURNS = {
    "order_calling": "I am calling about my order from last week.",
    "thank_you_awb": "Thank you so much. That is all I needed.",
}


@pytest.fixture(scope="module")
def server() -> Iterator[EmbeddedServer]:
    running = start_embedded_server(on_status=lambda _: None)
    yield running
    running.close()


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


def test_a_phone_sentence_the_vad_hesitates_over_is_one_turn(server: EmbeddedServer) -> None:
    """The same line 6 dB quieter (speech about -42 dBFS): Silero's speech probability on it
    hangs under the onset, so the engine heard two scraps ("close.", "week."), each its own
    turn; far over the line's floor, the VAD's offset now starts speech (``pause_gate.py``),
    and the sentence is one turn with most of its words ("I am" is still too quiet)."""
    quieter = call("order_calling") * np.float32(10.0 ** (-6.0 / 20.0))
    messages = run_stream(query_url(server, f"encoding=mulaw&sample_rate={PHONE_RATE}"),
                          encode(quieter, "mulaw"), frame=160)
    got = ends(messages)
    assert len(got) == 1, [e["transcript"] for e in got]
    assert overlap(TURNS["order_calling"], got[0]["transcript"]) >= 0.6, got[0]["transcript"]


@pytest.mark.parametrize("silence_s", [0, 3.072])
@pytest.mark.parametrize("name", sorted(TURNS))
def test_a_quiet_phone_turn_upsampled_by_the_client_is_heard_whole(
        server: EmbeddedServer, name: str, silence_s: float) -> None:
    """Without the band check the engine heard "Thank you so much." and dropped "That is all I
    needed."; while its output went the direct way until the verdict (stop 36-39), the other
    call's quiet "I am", in its first second, was lost. The output is now held until the
    verdict, and the whole call goes the phone way; the hold counts from the first sound, so a
    recording that opens with seconds of digital silence does too (stop 41: before, its hold
    ran out in the silence, and "I am" and "That is all I needed." went the direct way again).
    3.072 s is a whole number of the VAD's 32 ms windows: this call is quiet enough that the
    windows' phase alone moves its speech probability across the onset (``docs/TURNS.md``)."""
    coded = decode(encode(call(name), "mulaw"), "mulaw")  # a µ-law recording, offset and all
    upsampled = np.asarray(soxr.resample(coded, PHONE_RATE, 16000), dtype=np.float32)
    recording = np.concatenate([np.zeros(round(silence_s * 16000), np.float32), upsampled])
    messages = run_stream(query_url(server, "encoding=linear16&sample_rate=16000"),
                          encode(recording, "linear16"), frame=640)
    got = ends(messages)
    assert len(got) == 1, [e["transcript"] for e in got]
    assert overlap(TURNS[name], got[0]["transcript"]) >= 0.85, got[0]["transcript"]
