"""Abuse on loopback, bounded in count and time: a flood, fuzz, a client that never reads.

One real ``flux serve --workers 2 --max-streams 4`` (real models) takes the flood, the fuzz and
the slow reader; what needs short ping timers runs against an in-process server with the
scripted engine. Through all of it the server stays up, no worker is replaced, and a
well-behaved stream gives exactly the turns it gives alone.
"""

from __future__ import annotations

import asyncio
import json
import random
import socket
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import numpy as np
import psutil
import pytest
from conftest import timeout
from helpers.serve_process import ServeProcess, http_get, start
from helpers.speech import load_clip
from helpers.ws_frames import masked_text_frame
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

pytestmark = pytest.mark.slow  # real models or processes: the full tier

QUERY = "model=flux-general-en&encoding=linear16&sample_rate=16000"
FRAME_BYTES = 2560
MAX_STREAMS = 4
FUZZ_ITEMS = 10_000
FUZZ_CONNECTIONS = 3  # plus the well-behaved stream: within MAX_STREAMS


@pytest.fixture(scope="module")
def server() -> Iterator[ServeProcess]:
    running = start("--workers", "2", "--max-streams", str(MAX_STREAMS), "--idle-timeout", "3",
                    "--send-timeout", "3")
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def clip_pcm() -> bytes:
    """Two short turns with room between them: 0.5 s, a sentence, 1.5 s, a sentence, 1.5 s."""
    first, _ = load_clip("order_calling")
    second, _ = load_clip("order_check")
    gap = np.zeros(24000, dtype=np.float32)
    audio = np.concatenate([gap[:8000], first, gap, second, gap])
    return bytes((np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes())


def worker_pids(port: int) -> list[int]:
    status = json.loads(http_get(port, "/v1/status")[1])
    return [w["pid"] for w in status["workers_detail"]]


async def play(url: str, pcm: bytes, *, start_after: asyncio.Event | None = None,
               opened: asyncio.Event | None = None, pace: float = 0.0) -> list[tuple[Any, ...]]:
    """Stream ``pcm`` and return its decisions: (event, window start, window end, transcript)."""
    async with connect(f"{url}?{QUERY}", open_timeout=timeout(30)) as ws:
        if opened is not None:
            opened.set()
        if start_after is not None:
            await start_after.wait()
        messages: list[dict[str, Any]] = []

        async def receive() -> None:
            try:
                async for text in ws:
                    messages.append(json.loads(text))
            except ConnectionClosed:
                pass

        receiver = asyncio.create_task(receive())
        for i in range(0, len(pcm), FRAME_BYTES):
            await ws.send(pcm[i: i + FRAME_BYTES])
            if pace:
                await asyncio.sleep(0.08 / pace)
        await ws.send(json.dumps({"type": "CloseStream"}))
        await asyncio.wait_for(receiver, timeout(120))
        assert ws.close_code == 1000, messages[-1:]
    return [(m["event"], m["audio_window_start"], m["audio_window_end"], m["transcript"])
            for m in messages if m.get("event") in ("StartOfTurn", "EndOfTurn")]


def test_200_connections_over_capacity_get_429_and_accepted_streams_are_unchanged(
    server: ServeProcess, clip_pcm: bytes
) -> None:
    async def main() -> None:
        alone = await play(server.url, clip_pcm)
        assert [d[0] for d in alone] == ["StartOfTurn", "EndOfTurn"] * 2
        settled = asyncio.Event()
        outcomes: list[Any] = []

        async def attempt() -> None:
            try:
                outcomes.append(await play(server.url, clip_pcm, start_after=settled))
            except InvalidStatus as exc:
                response = exc.response
                outcomes.append((response.status_code, response.headers.get("dg-error", "")))

        tasks = [asyncio.create_task(attempt()) for _ in range(200)]
        # every handshake is answered before an accepted stream sends anything
        while sum(isinstance(o, tuple) for o in outcomes) < 200 - MAX_STREAMS:
            done = [t for t in tasks if t.done() and t.exception() is not None]
            assert not done, done[0].exception()
            await asyncio.sleep(0.05)
        status = json.loads(http_get(server.port, "/v1/status")[1])
        assert status["active_streams"] == MAX_STREAMS
        assert http_get(server.port, "/readyz")[0] == 503
        settled.set()
        await asyncio.wait_for(asyncio.gather(*tasks), timeout(240))
        refusals = [o for o in outcomes if isinstance(o, tuple)]
        accepted = [o for o in outcomes if isinstance(o, list)]
        assert len(refusals) == 200 - MAX_STREAMS and len(accepted) == MAX_STREAMS
        assert all(code == 429 and "too many concurrent streams" in why
                   for code, why in refusals)
        assert all(decisions == alone for decisions in accepted)

    pids = worker_pids(server.port)
    asyncio.run(main())
    assert http_get(server.port, "/healthz")[0] == 200
    assert worker_pids(server.port) == pids


# --------------------------------------------------------------------------- fuzz


def fuzz_item(rng: random.Random, raw_pcm: bool) -> tuple[str, Any]:
    """One random frame or message: ("bin", bytes), ("text", str) or ("bad-utf8", bytes).

    Random bytes are garbage to the container and Opus decoders. To a raw PCM stream any bytes
    are valid audio (loud noise, which only makes Whisper busy), so PCM streams get frames of
    random length and random content kept near silence.
    """
    roll = rng.random()
    if roll < 0.30:
        size = rng.randrange(0, 4096)
        if raw_pcm:
            quiet = np.frombuffer(rng.randbytes(size), dtype=np.uint8).astype(np.int16) - 128
            return "bin", quiet.astype("<i2").tobytes()[:size]
        return "bin", rng.randbytes(size)
    if roll < 0.31:
        return "bin", b"\0" * rng.randrange(1 << 20, 2 << 20)  # above the 1 MiB limit
    if roll < 0.33:
        return "bad-utf8", b"\xff\xfe\xc3" + rng.randbytes(rng.randrange(0, 64))
    texts = [
        lambda: json.dumps({"type": "KeepAlive"}),
        lambda: json.dumps({"type": rng.choice(["Configure", "ForceEndTurn", "Finalize"]),
                            "thresholds": {"eot_threshold": rng.choice(
                                [0.8, 7, -1e308, 1e308, "x", None, [1]])}}),
        lambda: json.dumps({"type": "Configure", "keyterms": rng.choice(
            [["a"], [1, 2], "word", {"a": 1}, ["x" * 5000] * 3])}),
        lambda: json.dumps({"type": rng.choice([5, None, "Dance", "", [], {}])}),
        lambda: rng.choice(["[", "{", "}", "null", "12", '"str"', "[]", "{}", "{\"type\":"]),
        lambda: '{"type": "Configure", "thresholds": {"eot_threshold": 1' + "0" * 400 + "}}",
        lambda: "[" * rng.randrange(1000, 200_000),
        lambda: '{"a":' * 50_000 + "1" + "}" * 50_000,
        lambda: "".join(chr(rng.randrange(1, 0x2FFF)) for _ in range(rng.randrange(1, 200))),
    ]
    return "text", rng.choice(texts)()


async def fuzz_connection(url: str, rng: random.Random, budget: list[int],
                          seen: Counter[str]) -> None:
    """Connect, send random items until the server ends the stream, check how; repeat."""
    while budget[0] > 0:
        encoding = rng.choice(["encoding=linear16&sample_rate=16000",
                               "encoding=mulaw&sample_rate=8000", "encoding=ogg-opus", ""])
        try:
            ws = await connect(f"{url}?model=flux-general-en&{encoding}".rstrip("&"),
                               open_timeout=timeout(30), max_size=None)
        except InvalidStatus as exc:  # our last connection's slot is not back yet
            assert exc.response.status_code == 429
            seen["429, retried"] += 1
            await asyncio.sleep(0.05)
            continue
        async with ws:
            messages: list[dict[str, Any]] = []

            async def receive(ws: ClientConnection = ws,
                              messages: list[dict[str, Any]] = messages) -> None:
                try:
                    async for text in ws:
                        messages.append(json.loads(text))
                except ConnectionClosed:
                    pass

            receiver = asyncio.create_task(receive())
            sent_close = False
            try:
                for _ in range(rng.randrange(1, 60)):
                    if budget[0] <= 0 or receiver.done():
                        break
                    budget[0] -= 1
                    kind, data = fuzz_item(rng, raw_pcm="sample_rate" in encoding)
                    if kind == "bin":
                        await ws.send(data)
                    elif kind == "bad-utf8":
                        await ws.send(data, text=True)
                    else:
                        await ws.send(data)
                if not receiver.done():
                    await ws.send(json.dumps({"type": "CloseStream"}))
                    sent_close = True
            except ConnectionClosed:
                pass
            await asyncio.wait_for(receiver, timeout(60))
            code = ws.close_code
            errors = [m for m in messages if m.get("type") == "Error"]
            if code == 1000:
                assert sent_close and not errors
                seen["closed normally"] += 1
            elif code == 1007:  # RFC 6455: invalid UTF-8 in a text frame fails the connection
                seen["1007 invalid utf-8"] += 1
            else:
                assert code in (1008, 1009, 1011), (code, messages[-2:])
                assert errors and messages[-1] is errors[-1], messages[-2:]
                seen[errors[-1]["code"]] += 1


def test_fuzz_10000_items_each_bad_connection_gets_error_and_close(
    server: ServeProcess, clip_pcm: bytes
) -> None:
    async def main() -> Counter[str]:
        alone = await play(server.url, clip_pcm)
        budget = [FUZZ_ITEMS]
        seen: Counter[str] = Counter()
        opened = asyncio.Event()
        good = asyncio.create_task(play(server.url, clip_pcm, opened=opened, pace=4.0))
        await opened.wait()
        fuzzers = [fuzz_connection(server.url, random.Random(seed), budget, seen)
                   for seed in range(FUZZ_CONNECTIONS)]
        await asyncio.wait_for(asyncio.gather(*fuzzers), timeout(300))
        assert await asyncio.wait_for(good, timeout(120)) == alone
        return seen

    pids = worker_pids(server.port)
    seen = asyncio.run(main())
    assert http_get(server.port, "/healthz")[0] == 200
    assert worker_pids(server.port) == pids
    for code in ("UNPARSABLE_CLIENT_MESSAGE", "MESSAGE_TOO_BIG", "DATA-0000",
                 "closed normally", "1007 invalid utf-8"):
        assert seen[code] > 0, seen


# --------------------------------------------------------------------------- slow, idle


def never_reading_client(port: int) -> str:
    """Handshake, then send Configure after Configure and never read a byte of the answers."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(timeout(10))
    sock.connect(("127.0.0.1", port))
    try:
        sock.sendall((f"GET /v2/listen?{QUERY} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                      "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                      "Sec-WebSocket-Version: 13\r\n\r\n").encode())
        assert sock.recv(12) == b"HTTP/1.1 101"  # the only read we ever do
        frame = masked_text_frame(json.dumps({"type": "Configure", "keyterms": ["k" * 40] * 50}))
        keepalive = masked_text_frame(json.dumps({"type": "KeepAlive"}))  # no idle timeout
        for _ in range(20_000):  # each is answered by a 2.5 KB ConfigureSuccess we never read
            sock.sendall(frame + keepalive)
    except (ConnectionResetError, BrokenPipeError):
        return "closed"
    except TimeoutError:
        return "our sends blocked"
    finally:
        sock.close()
    return "never closed"


def slow_clients(port: int) -> float:
    for line in http_get(port, "/metrics")[1].splitlines():
        if line.startswith('flux_streams_total{outcome="slow_client"}'):
            return float(line.split()[-1])
    raise AssertionError("no slow_client count in /metrics")


def test_a_client_that_never_reads_is_cut_off_and_memory_stays_flat(
    server: ServeProcess,
) -> None:
    workers = [psutil.Process(pid) for pid in worker_pids(server.port)]

    def rss() -> int:
        return sum(p.memory_info().rss for p in workers)

    cut_before = slow_clients(server.port)
    assert never_reading_client(server.port) == "closed"  # warms up a first cut-off
    before = rss()
    outcomes = [never_reading_client(server.port) for _ in range(3)]
    grown = rss() - before
    assert outcomes == ["closed"] * 3
    assert grown < 30 * 2**20, f"server memory grew by {grown / 2**20:.1f} MiB"
    deadline = time.monotonic() + timeout(10)  # counted when the handler has finished
    while slow_clients(server.port) < cut_before + 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert slow_clients(server.port) == cut_before + 4


def test_a_connection_that_sends_nothing_times_out(server: ServeProcess) -> None:
    async def main() -> None:
        async with connect(f"{server.url}?{QUERY}", open_timeout=timeout(30)) as ws:
            messages = [json.loads(m) async for m in _until_closed(ws)]
        assert [m["type"] for m in messages] == ["Connected", "Error"]
        assert messages[-1]["code"] == "NO_AUDIO_TIMEOUT" and ws.close_code == 1011

    asyncio.run(main())
    # a TCP connection that never sends its HTTP request is closed too
    with socket.create_connection(("127.0.0.1", server.port)) as raw:
        raw.settimeout(timeout(20))
        assert raw.recv(100) == b""


async def _until_closed(ws: ClientConnection) -> Any:
    try:
        async for message in ws:
            yield message
    except ConnectionClosed:
        return
