"""Mid-stream controls from another thread, against the real local engine; flags of today's Flux.

``Session.configure`` / ``force_end_turn`` are called from a thread of their own (as a key
handler in the live panel would) while ``run()`` streams the bundled sample.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from conftest import timeout
from helpers.scripted_server import ScriptedServer
from helpers.speech import load_clip

from flux_cli import protocol
from flux_cli.client.events import ConnectionInfo, Progress, Received, Reconnect
from flux_cli.client.feed import AudioFeed
from flux_cli.client.shell import Session
from flux_cli.protocol import ParamError
from flux_cli.server.embedded import EmbeddedServer, start_embedded_server

pytestmark = pytest.mark.slow  # real models or processes: the full tier

FLUX = [sys.executable, "-m", "flux_cli"]
FRAME = 1280  # 80 ms at 16 kHz


@pytest.fixture(scope="module")
def engine() -> Iterator[EmbeddedServer]:
    running = start_embedded_server(on_status=lambda _: None)
    yield running
    running.close()


class Collect:
    def __init__(self) -> None:
        self.messages: list[protocol.ServerMessage] = []
        self.first_turn = threading.Event()

    def on_connected(self, info: ConnectionInfo) -> None:
        pass

    def on_message(self, received: Received) -> None:
        if received.message is not None:
            self.messages.append(received.message)
        if isinstance(received.message, protocol.TurnInfo):
            self.first_turn.set()

    def on_progress(self, progress: Progress) -> None:
        pass

    def on_reconnect(self, event: Reconnect) -> None:
        pass


def sample_feed(seconds: float) -> AudioFeed:
    audio, _ = load_clip("dialogue")
    pcm = np.rint(np.clip(audio[: round(seconds * 16000)], -1, 1) * 32767).astype("<i2")
    data = pcm.tobytes()
    frames = [data[i : i + 2 * FRAME] for i in range(0, len(data), 2 * FRAME)]

    def pace(index: int) -> None:
        threading.Event().wait(0.02)  # 4x real time: room for a Configure mid-stream

    return AudioFeed(iter(frames), 32000.0, pace)


def test_configure_round_trip_from_another_thread(engine: EmbeddedServer) -> None:
    collect = Collect()
    session = Session(
        engine.url + "?model=flux-general-en&encoding=linear16&sample_rate=16000",
        sample_feed(6.0),
        collect,
    )
    answers: list[bool] = []
    refused: list[str] = []

    def key_handler() -> None:
        collect.first_turn.wait(timeout(30))
        try:
            session.configure(thresholds={"eot_threshold": 1.5})
        except ParamError as exc:  # checked before sending, as the server would
            refused.append(str(exc))
        answers.append(session.configure(thresholds={"eot_threshold": 0.9}, keyterms=["molar"]))
        answers.append(session.force_end_turn())

    handler = threading.Thread(target=key_handler)
    handler.start()
    outcome = session.run()
    handler.join(timeout(10))
    assert outcome.error is None and outcome.close_code in (None, 1000, 1005)
    assert answers == [True, True]
    assert refused and "eot_threshold must be between 0.5 and 1" in refused[0]
    success = [m for m in collect.messages if isinstance(m, protocol.ConfigureSuccess)]
    assert len(success) == 1
    assert success[0].thresholds["eot_threshold"] == 0.9 and success[0].keyterms == ["molar"]
    assert session.core.params.eot_threshold == 0.9


def run_flux(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*FLUX, "transcribe", *args], capture_output=True, text=True, timeout=timeout(60)
    )


def test_language_hints_go_as_repeated_query_keys(tmp_path: Path) -> None:
    wav = tmp_path / "a.wav"
    import soundfile as sf

    sf.write(wav, np.zeros(4000, dtype=np.float32), 16000)
    with ScriptedServer() as srv:
        result = run_flux(
            str(wav),
            "--url",
            srv.url,
            "--fast",
            "--model",
            "flux-general-multi",
            "--language-hint",
            "de",
            "--language-hint",
            "en",
        )
    assert result.returncode == 0, result.stderr
    assert srv.last.raw_query == (
        "model=flux-general-multi&encoding=linear16&sample_rate=16000"
        "&language_hint=de&language_hint=en"
    )


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--language-hint", "de"], "language_hint needs model=flux-general-multi"),
        (["--model", "flux-haley-en"], "text-to-speech voice (/v2/speak), not a listen model"),
        (["--model", "flux-general-multi", "--language-hint", "xx"], "not a language of"),
        (["--reconnect", "-1"], "--reconnect must be between 0"),
    ],
)
def test_flags_the_live_service_refuses_are_exit_2(
    tmp_path: Path, args: list[str], says: str
) -> None:
    result = run_flux(str(tmp_path / "none.wav"), "--url", "ws://127.0.0.1:9", *args)
    assert result.returncode == 2, result.stderr
    assert says in result.stderr and len(result.stderr.splitlines()) == 1
