"""``flux serve`` logs one line per stream (JSON for collectors), and never a key."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path

import pytest
import soundfile as sf
from helpers.cli import flux
from helpers.serve_process import start

pytestmark = pytest.mark.slow  # a real flux serve: the full tier

SENTENCE = Path(__file__).resolve().parent.parent / "samples" / "sentence.wav"
QUERY = "model=flux-general-en&encoding=linear16&sample_rate=16000"
SECRET = "srv-key-9f8e7d6c5b4a"


async def stream_once(url: str) -> int:
    from websockets.asyncio.client import connect

    audio, _ = sf.read(SENTENCE, dtype="int16")
    pcm = audio.tobytes()
    async with connect(f"{url}?{QUERY}",
                       additional_headers={"Authorization": f"Token {SECRET}"}) as ws:
        for i in range(0, len(pcm), 2560):
            await ws.send(pcm[i : i + 2560])
        await ws.send(json.dumps({"type": "CloseStream"}))
        async for _ in ws:
            pass
    assert ws.close_code is not None
    return ws.close_code


def test_one_json_line_per_stream_and_no_key() -> None:
    server = start("--workers", "1", "--log-format", "json", "--api-key", SECRET)
    try:
        assert asyncio.run(stream_once(server.url)) == 1000
        server.signal(signal.SIGTERM)
        assert server.wait(60) == 0
    finally:
        server.stop()
    text = server.stderr_text()
    assert SECRET not in text
    records = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    streams = [r["stream"] for r in records if "stream" in r]
    assert len(streams) == 1, text
    (stream,) = streams
    assert stream["outcome"] == "completed" and stream["close_code"] == 1000
    assert stream["turns"] == 1 and 4.5 < stream["audio_s"] < 5.5
    assert stream["request_id"] and records[0]["level"] in ("info", "warning")


def test_bad_log_flags_are_exit_2() -> None:
    for args in (["--log-level", "loud"], ["--log-format", "xml"]):
        result = flux("serve", "--port", "0", *args)
        assert result.returncode == 2, result.stderr
        assert result.stderr.startswith("flux: error: --log-")
