"""Long audio sent faster than real time reaches the end: flux's own --fast, and outside
clients that send with no pacing at all, against the in-process engine and ``flux serve``.

The long inputs are the committed two-speaker call (``samples/dialogue.wav``, 5 turns in
30.4 s) repeated, so every repetition must come back as its 5 turns.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
from conftest import timeout
from helpers.cli import FLUX, env, flux, speechless
from helpers.scripted_server import Script, ScriptedServer, Step, turn
from helpers.serve_process import start

from flux_cli.client.shell import ACK_STALL_S

pytestmark = pytest.mark.slow  # real models, minutes of audio: the full tier

DIALOGUE = Path(__file__).resolve().parent.parent / "samples" / "dialogue.wav"
TURNS_PER_DIALOGUE = 5
QUERY = "model=flux-general-en&encoding=linear16&sample_rate=16000"


def dialogue_repeated(times: int) -> np.ndarray:
    audio, rate = sf.read(DIALOGUE, dtype="int16")
    assert rate == 16000 and audio.ndim == 1
    return np.tile(audio, times)


def test_a_ten_minute_file_at_fast_through_the_embedded_engine(tmp_path: Path) -> None:
    long = tmp_path / "long.wav"
    sf.write(long, dialogue_repeated(20), 16000, subtype="PCM_16")  # 608 s
    result = subprocess.run(
        [*FLUX, "transcribe", str(long), "--fast", "--output", "text"],
        capture_output=True, text=True, env=env(), timeout=timeout(1200),
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert len(result.stdout.splitlines()) == 20 * TURNS_PER_DIALOGUE
    assert "100 turns · 608.4 s of audio" in result.stderr


def test_fast_runs_no_further_ahead_than_the_server_acknowledged(tmp_path: Path) -> None:
    """The server acknowledges 0.32 s and then says nothing: --fast sends up to its 5 s
    window beyond that and waits (here until the stall fallback, ``ACK_STALL_S``), instead of
    pushing all 20 s into the socket at once as before."""
    speechless(tmp_path / "a.wav", 20.0)
    ack = Step(4, turn("Update", 0, 0.0, 0.32, ""))
    with ScriptedServer(Script(steps=[ack])) as srv:
        result = flux("transcribe", str(tmp_path / "a.wav"), "--fast", "--url", srv.url,
                      "--output", "text")
        frames = srv.last.frames
    assert result.returncode == 0, result.stderr
    assert len(frames) == 250  # 20 s of 80 ms frames, all sent in the end
    first = frames[0][1]
    early = sum(1 for _, arrived in frames if arrived - first < ACK_STALL_S - 0.3)
    assert early <= (5.0 + 0.32) / 0.08 + 2, early


async def send_unpaced(url: str, pcm: bytes, ping_s: float) -> tuple[list[dict[str, Any]], int]:
    """An outside asyncio client: every frame as fast as TCP takes it, reading meanwhile;
    its keepalive pings every ``ping_s`` and gives up after ``ping_s`` without a pong."""
    from websockets.asyncio.client import connect

    messages: list[dict[str, Any]] = []
    async with connect(f"{url}?{QUERY}", ping_interval=ping_s, ping_timeout=ping_s,
                       open_timeout=timeout(60)) as ws:

        async def read() -> None:
            async for text in ws:
                messages.append(json.loads(text))

        reader = asyncio.create_task(read())
        for start_byte in range(0, len(pcm), 2560):
            await ws.send(pcm[start_byte : start_byte + 2560])
        await ws.send(json.dumps({"type": "CloseStream"}))
        await asyncio.wait_for(reader, timeout(900))
    assert ws.close_code is not None
    return messages, ws.close_code


def check_every_turn(messages: list[dict[str, Any]], close_code: int, times: int) -> None:
    errors = [m for m in messages if m.get("type") == "Error"]
    assert close_code == 1000 and not errors, (close_code, errors)
    ends = [m for m in messages if m.get("event") == "EndOfTurn"]
    assert len(ends) == times * TURNS_PER_DIALOGUE
    assert messages[-1]["audio_window_end"] > times * 30.0


def test_an_unpaced_outside_client_is_not_cut_by_the_in_process_server() -> None:
    from flux_cli.engine.models.loader import load_engine
    from flux_cli.server.app import serve, server_port

    pcm = dialogue_repeated(10).tobytes()  # 5 minutes

    async def main() -> tuple[list[dict[str, Any]], int]:
        engine = await asyncio.to_thread(load_engine)
        # the server pings every 2 s too: its own backlog must not count against the client
        server = await serve(port=0, engine=engine, ping_interval_s=2.0, ping_timeout_s=2.0)
        try:
            return await send_unpaced(f"ws://127.0.0.1:{server_port(server)}/v2/listen", pcm, 2.0)
        finally:
            server.close()
            await server.wait_closed()

    check_every_turn(*asyncio.run(main()), times=10)


def test_an_unpaced_outside_client_is_not_cut_by_flux_serve_with_two_workers() -> None:
    pcm = dialogue_repeated(10).tobytes()
    server = start("--workers", "2")
    try:
        messages, code = asyncio.run(send_unpaced(server.url, pcm, 2.0))
    finally:
        server.stop()
    check_every_turn(messages, code, times=10)
