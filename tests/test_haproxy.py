"""A real HAProxy (Debian package, installed by .ci/run) in front of two real ``flux serve``.

HAProxy balances by least connections and health-checks each backend's ``/readyz`` every
200 ms, as docs/SERVING.md recommends. The test shows that streams spread over both
backends, that a backend at ``--max-streams`` leaves the rotation by its ``/readyz`` (so
clients see no 429 while the other has room), and that a draining backend gets no new
streams while its open stream runs to its end.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import timeout
from helpers.serve_process import ServeProcess, http_get, start
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

pytestmark = pytest.mark.slow  # real models or processes: the full tier


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])

QUERY = "model=flux-general-en&encoding=linear16&sample_rate=16000"
MAX_STREAMS = 3
QUIET = b"\0" * 2560

CONFIG = """
global
    maxconn 500
defaults
    mode http
    timeout connect 2s
    timeout client 120s
    timeout server 120s
    timeout tunnel 120s
frontend listen
    bind 127.0.0.1:{front}
    default_backend flux
backend flux
    balance leastconn
    option httpchk GET /readyz
    http-check expect status 200
    default-server inter 200ms fall 1 rise 1
    server a 127.0.0.1:{a} check
    server b 127.0.0.1:{b} check
listen stats
    bind 127.0.0.1:{stats}
    stats enable
    stats uri /stats
"""


class Proxy:
    def __init__(self, tmp: Path, a: int, b: int) -> None:
        self.front, self.stats = free_port(), free_port()
        cfg = tmp / "haproxy.cfg"
        cfg.write_text(CONFIG.format(front=self.front, stats=self.stats, a=a, b=b))
        haproxy = shutil.which("haproxy") or "/usr/sbin/haproxy"
        if not Path(haproxy).exists():
            pytest.fail("haproxy is missing: apt-get install haproxy (.ci/run installs it)")
        self.proc = subprocess.Popen([haproxy, "-db", "-f", str(cfg)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.wait_for(lambda s: s == {"a": "UP", "b": "UP"}, "both backends up")

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.front}/v2/listen?{QUERY}"

    def states(self) -> dict[str, str]:
        """Each backend server's status as HAProxy sees it (UP, DOWN...)."""
        text = http_get(self.stats, "/stats;csv")[1].lstrip("# ")
        rows = csv.DictReader(io.StringIO(text))
        return {row["svname"]: row["status"].split()[0] for row in rows
                if row["pxname"] == "flux" and row["svname"] in ("a", "b")}

    def wait_for(self, check: Any, what: str) -> None:
        deadline = time.monotonic() + timeout(15)
        states: dict[str, str] = {}
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"haproxy exited {self.proc.returncode}")
            try:
                states = self.states()
            except (OSError, KeyError):
                states = {}
            if check(states):
                return
            time.sleep(0.05)
        raise AssertionError(f"haproxy: never {what}; last {states}")

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout(10))


@pytest.fixture
def backends() -> Iterator[dict[str, ServeProcess]]:
    servers: dict[str, ServeProcess] = {}
    try:
        for name in ("a", "b"):
            servers[name] = start("--workers", "1", "--max-streams", str(MAX_STREAMS),
                                  "--drain-timeout", "120", "--idle-timeout", "60")
        yield servers
    finally:
        for server in servers.values():
            server.stop()


def active(server: ServeProcess) -> int:
    return int(json.loads(http_get(server.port, "/v1/status")[1])["active_streams"])


async def open_stream(url: str) -> ClientConnection:
    ws = await connect(url, open_timeout=timeout(20))
    assert json.loads(await ws.recv())["type"] == "Connected"
    await ws.send(QUIET)
    return ws


async def finish(ws: ClientConnection) -> list[dict[str, Any]]:
    await ws.send(json.dumps({"type": "CloseStream"}))
    messages = []
    try:
        async for text in ws:
            messages.append(json.loads(text))
    except ConnectionClosed:
        pass
    assert ws.close_code == 1000
    return messages


def test_haproxy_spreads_streams_and_follows_readyz(backends: dict[str, ServeProcess],
                                                    tmp_path: Path) -> None:
    a, b = backends["a"], backends["b"]
    proxy = Proxy(tmp_path, a.port, b.port)

    async def main() -> None:
        # 1. four streams from four clients: least connections puts two on each backend
        first = [await open_stream(proxy.url) for _ in range(4)]
        assert (active(a), active(b)) == (2, 2)
        # 2. a fifth fills one backend; its /readyz turns 503 and HAProxy takes it out
        fifth = await open_stream(proxy.url)
        full = a if active(a) == MAX_STREAMS else b
        other = b if full is a else a
        full_name = "a" if full is a else "b"
        proxy.wait_for(lambda s: s.get(full_name) == "DOWN", f"{full_name} out at capacity")
        assert http_get(full.port, "/readyz")[0] == 503
        # so the next goes to the other backend, and no client sees a 429
        more = [await open_stream(proxy.url)]
        assert (active(full), active(other)) == (MAX_STREAMS, MAX_STREAMS)
        proxy.wait_for(lambda s: s == {"a": "DOWN", "b": "DOWN"}, "both out when both full")
        with pytest.raises(InvalidStatus) as info:  # nobody has room: HAProxy says so
            await connect(proxy.url, open_timeout=timeout(20))
        assert info.value.response.status_code == 503
        for ws in [*first, fifth, *more]:
            await finish(ws)
        proxy.wait_for(lambda s: s == {"a": "UP", "b": "UP"}, "both back in rotation")

        # 3. drain: one stream on each; SIGTERM a; new streams all go to b
        on_a, on_b = await open_stream(proxy.url), await open_stream(proxy.url)
        assert (active(a), active(b)) == (1, 1)
        a.signal(signal.SIGTERM)
        proxy.wait_for(lambda s: s.get("a") == "DOWN", "a out while draining")
        later = [await open_stream(proxy.url) for _ in range(2)]
        assert active(b) == 3 and active(a) == 1
        await asyncio.sleep(0.5)
        assert a.proc.poll() is None  # still draining: its stream is open
        for ws in (*later, on_b):
            await finish(ws)
        messages = await finish(on_a)  # the draining backend's stream ends normally
        assert [m["type"] for m in messages][-1] == "TurnInfo"
        assert not [m for m in messages if m["type"] == "Error"]

    try:
        asyncio.run(asyncio.wait_for(main(), timeout(120)))
        assert a.wait(30) == 0
        assert "draining: 1 open stream(s)" in a.stderr_text()
    finally:
        proxy.close()
