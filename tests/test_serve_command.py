"""``flux serve`` as an operator runs it: a real subprocess, real models, real signals.

Bad flags and a port in use fail in milliseconds with one line, before any model loads. A
SIGTERM drains: ``/readyz`` and new streams get 503 while the open stream runs to its end;
past ``--drain-timeout`` a stream gets an ``Error`` and a close; a second signal stops at once.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from typing import Any

import numpy as np
import pytest
from conftest import timeout
from helpers.serve_process import ROOT, http_get, start
from helpers.speech import dialogue_info, load_clip
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

pytestmark = pytest.mark.slow  # real models or processes: the full tier

QUERY = "model=flux-general-en&encoding=linear16&sample_rate=16000"
FRAME = 1280  # 80 ms at 16 kHz


def serve_cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "flux_cli", "serve", *args], env=env,
                          capture_output=True, text=True, timeout=timeout(60), cwd=ROOT)


@pytest.mark.parametrize(("args", "code", "words"), [
    (["--port", "99999"], 2, "--port must be between 0 and 65535"),
    (["--idle-timeout", "-5"], 2, "--idle-timeout must be"),
    (["--drain-timeout", "-1"], 2, "--drain-timeout must be"),
    (["--max-streams", "0"], 2, "--max-streams must be at least 1"),
    (["--workers", "0"], 2, "--workers must be between"),
    (["--port", "abc"], 2, "--port"),
])
def test_bad_flags_are_one_line_before_loading(args: list[str], code: int, words: str) -> None:
    done = serve_cli(*args)
    assert done.returncode == code
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("flux: error:") and words in lines[0]
    assert "Traceback" not in done.stderr and "loading" not in done.stderr


def test_port_in_use_is_exit_4_before_loading() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = serve_cli("--port", str(port))
    assert done.returncode == 4
    assert done.stderr.strip() == (f"flux: error: cannot listen on 127.0.0.1:{port}: the port "
                                   "is in use (is another server running there?)")


def pcm_frames(audio: np.ndarray) -> list[bytes]:
    pcm = (np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes()
    return [pcm[i: i + 2 * FRAME] for i in range(0, len(pcm), 2 * FRAME)]


class Streamer(threading.Thread):
    """One client stream in a thread: sends frames at ``speed`` x real time, records replies."""

    def __init__(self, url: str, frames: list[bytes], *, speed: float,
                 close: bool = True) -> None:
        super().__init__(daemon=True)
        self.url, self.frames, self.speed, self.close_stream = url, frames, speed, close
        self.messages: list[dict[str, Any]] = []
        self.close_code: int | None = None
        self.connected = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with connect(f"{self.url}?{QUERY}", open_timeout=timeout(20)) as ws:
                self.connected.set()
                receiver = threading.Thread(target=self._receive, args=(ws,), daemon=True)
                receiver.start()
                try:
                    for frame in self.frames:
                        ws.send(frame)
                        time.sleep(0.08 / self.speed)
                    if self.close_stream:
                        ws.send(json.dumps({"type": "CloseStream"}))
                except ConnectionClosed:
                    pass
                receiver.join(timeout(120))
                self.close_code = ws.close_code
        except BaseException as exc:
            self.error = exc
            self.connected.set()

    def _receive(self, ws: ClientConnection) -> None:
        try:
            for text in ws:
                self.messages.append(json.loads(text))
        except ConnectionClosed:
            pass

    def ends(self) -> list[str]:
        return [m["transcript"] for m in self.messages if m.get("event") == "EndOfTurn"]


def refused_status(url: str) -> int:
    with pytest.raises(InvalidStatus) as info, connect(f"{url}?{QUERY}", open_timeout=10):
        pass
    return info.value.response.status_code


def test_sigterm_drains_the_open_stream_to_its_end_then_exits_0() -> None:
    audio, _ = load_clip("dialogue")
    server = start("--workers", "1", "--drain-timeout", "120")
    try:
        streamer = Streamer(server.url, pcm_frames(audio), speed=3.0)
        streamer.start()
        assert streamer.connected.wait(timeout(20)) and streamer.error is None
        time.sleep(1.0)
        server.signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout(10)
        while http_get(server.port, "/readyz")[0] != 503 and time.monotonic() < deadline:
            time.sleep(0.05)
        code, body, _ = http_get(server.port, "/readyz")
        assert (code, body) == (503, "draining: not taking new streams\n")
        assert refused_status(server.url) == 503
        assert http_get(server.port, "/healthz")[0] == 200
        assert json.loads(http_get(server.port, "/v1/status")[1])["draining"] is True
        streamer.join(timeout(120))
        assert server.wait(60) == 0
    finally:
        server.stop()
    assert streamer.error is None and streamer.close_code == 1000
    assert len(streamer.ends()) == len(dialogue_info()["turns"])
    assert not [m for m in streamer.messages if m["type"] == "Error"]
    assert "draining: 1 open stream(s)" in server.stderr_text()


def test_drain_timeout_ends_a_stream_with_an_error_and_a_close() -> None:
    quiet_frames = pcm_frames(np.zeros(16000 * 60, dtype=np.float32))
    server = start("--workers", "1", "--drain-timeout", "1")
    try:
        streamer = Streamer(server.url, quiet_frames, speed=1.0)
        streamer.start()
        assert streamer.connected.wait(timeout(20)) and streamer.error is None
        time.sleep(0.5)
        started = time.monotonic()
        server.signal(signal.SIGTERM)
        streamer.join(timeout(30))
        assert server.wait(30) == 0
        took = time.monotonic() - started
    finally:
        server.stop()
    errors = [m for m in streamer.messages if m["type"] == "Error"]
    assert [e["code"] for e in errors] == ["SERVER_SHUTTING_DOWN"]
    assert streamer.messages[-1] is errors[0] and streamer.close_code == 1001
    assert took >= 1.0
    assert "1 stream(s) ended with an Error" in server.stderr_text()


def test_a_second_signal_stops_at_once_with_workers() -> None:
    quiet_frames = pcm_frames(np.zeros(16000 * 60, dtype=np.float32))
    server = start("--workers", "2", "--drain-timeout", "300")
    try:
        streamer = Streamer(server.url, quiet_frames, speed=1.0)
        streamer.start()
        assert streamer.connected.wait(timeout(20)) and streamer.error is None
        time.sleep(0.5)
        server.signal(signal.SIGTERM)
        time.sleep(1.0)
        assert server.proc.poll() is None  # still draining: the stream is open
        server.signal(signal.SIGINT)
        assert server.wait(20) == 128 + signal.SIGTERM
        streamer.join(timeout(20))
    finally:
        server.stop()
    assert streamer.close_code != 1000
    assert "stopped at once" in server.stderr_text()
    assert "Traceback" not in server.stderr_text()
