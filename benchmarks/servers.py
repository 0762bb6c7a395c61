"""The two servers a benchmark talks to: our engine (a subprocess) and a sink (in-process).

The engine runs as ``python -m flux_cli serve`` in its own process so psutil can charge it
exactly the CPU it burns. The sink accepts a stream, discards the audio, records when each
frame arrived, answers nothing and closes on CloseStream: it measures the client alone.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import psutil

READY_TIMEOUT_S = 180.0


def free_port() -> int:
    """A port the OS says is free now (a small race, fine on loopback)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_listening(port: int, proc: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with code {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"server did not listen on port {port} within {timeout:.0f} s")


class EngineServer:
    """``python -m flux_cli serve`` on a free loopback port, for the length of a ``with``."""

    def __init__(self, log_path: Path, extra_args: tuple[str, ...] = (),
                 root: Path | None = None) -> None:
        self.port = free_port()
        self.log_path = log_path
        self.extra_args = extra_args
        self.root = root  # another checkout's flux_cli (its directory first on the path)
        self.proc: subprocess.Popen[bytes] | None = None
        self._ps: psutil.Process | None = None

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/v2/listen"

    def __enter__(self) -> EngineServer:
        env = {**os.environ, "HF_HUB_OFFLINE": "1"}
        if self.root is not None:
            env["PYTHONPATH"] = str(self.root)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                # one worker: psutil charges this one process the engine's whole CPU
                [sys.executable, "-m", "flux_cli", "serve", "--host", "127.0.0.1",
                 "--port", str(self.port), "--workers", "1", *self.extra_args],
                stdout=subprocess.DEVNULL, stderr=log, env=env, cwd=self.root,
            )
        self._ps = psutil.Process(self.proc.pid)
        try:
            _wait_listening(self.port, self.proc, READY_TIMEOUT_S)
        except BaseException:
            self.close()
            raise
        return self

    def cpu_seconds(self) -> float:
        """User + system CPU of the server process (all its threads) so far."""
        if self._ps is None:
            return 0.0
        times = self._ps.cpu_times()
        return float(times.user + times.system)

    def rss(self) -> int:
        return int(self._ps.memory_info().rss) if self._ps is not None else 0

    def close(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


@dataclass
class SinkStream:
    """What the sink saw of one stream: (monotonic receive time, bytes) per binary frame."""

    frames: list[tuple[float, int]] = field(default_factory=list)
    closed_by_client: bool = False


class SinkServer:
    """A websockets server in a background thread that swallows audio and says nothing."""

    def __init__(self) -> None:
        self.port = free_port()
        self.streams: list[SinkStream] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="sink", daemon=True)
        self._ready = threading.Event()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/v2/listen"

    async def _handler(self, ws: Any) -> None:
        stream = SinkStream()
        self.streams.append(stream)
        async for message in ws:
            if isinstance(message, bytes):
                stream.frames.append((time.monotonic(), len(message)))
                continue
            try:
                kind = json.loads(message).get("type")
            except (ValueError, AttributeError):
                kind = None
            if kind == "CloseStream":
                stream.closed_by_client = True
                await ws.close(1000)
                return

    async def _main(self) -> None:
        from websockets.asyncio.server import serve

        self._stop = asyncio.Event()
        async with serve(self._handler, "127.0.0.1", self.port, max_size=None):
            self._ready.set()
            await self._stop.wait()

    def _run(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._loop.run_until_complete(self._main())
        self._loop.close()

    def __enter__(self) -> SinkServer:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("sink server did not start")
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)
