"""A real ``flux serve`` in a subprocess, for tests of signals, workers and load balancing.

The server binds port 0 and says where it listens on stderr; ``start`` reads that line,
then waits for ``/readyz`` so a test begins with the models loaded.
"""

from __future__ import annotations

import http.client
import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from conftest import timeout

ROOT = Path(__file__).resolve().parents[2]
LISTENING = re.compile(r"listening on ws://[^:]+:(\d+)/v2/listen")


def http_get(port: int, path: str, *, host: str = "127.0.0.1") -> tuple[int, str, dict[str, str]]:
    """One plain GET: status, body text, headers (lower-case names)."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout(10))
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        body = response.read().decode("utf-8", "replace")
        headers = {k.lower(): v for k, v in response.getheaders()}
        return response.status, body, headers
    finally:
        conn.close()


@dataclass
class ServeProcess:
    proc: subprocess.Popen[str]
    port: int = 0
    lines: list[str] = field(default_factory=list)
    _reader: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/v2/listen"

    def stderr_text(self) -> str:
        return "\n".join(self.lines)

    def signal(self, signum: int = signal.SIGTERM) -> None:
        self.proc.send_signal(signum)

    def wait(self, seconds: float) -> int:
        code = self.proc.wait(timeout(seconds))
        if self._reader is not None:
            self._reader.join(timeout(5))
        return code

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout(10))

    def wait_ready(self, seconds: float = 60) -> None:
        deadline = time.monotonic() + timeout(seconds)
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"flux serve exited {self.proc.returncode}:\n"
                                     f"{self.stderr_text()}")
            try:
                if http_get(self.port, "/readyz")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"flux serve not ready in time:\n{self.stderr_text()}")


def start(*args: str, ready: bool = True) -> ServeProcess:
    """``python -m flux_cli serve --port 0 ARGS``; returns once it listens (and is ready)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "flux_cli", "serve", "--port", "0", *args],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        env=env, cwd=ROOT,
    )
    server = ServeProcess(proc)
    found = threading.Event()

    def read() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            server.lines.append(line.rstrip("\n"))
            match = LISTENING.search(line)
            if match and not found.is_set():
                server.port = int(match.group(1))
                found.set()
        found.set()

    server._reader = threading.Thread(target=read, daemon=True)
    server._reader.start()
    if not found.wait(timeout(60)) or not server.port:
        server.stop()
        raise AssertionError(f"flux serve did not listen:\n{server.stderr_text()}")
    if ready:
        try:
            server.wait_ready()
        except BaseException:
            server.stop()
            raise
    return server
