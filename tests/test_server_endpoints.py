"""Health, readiness, status, metrics, capacity and language refusals over real sockets.

The server runs in-process with the scripted fake engine (``server_fakes``): these tests are
about the service around the turn session, not the models.
"""

from __future__ import annotations

import asyncio
import json
import logging

import pytest
from helpers.endpoints import get, with_server
from helpers.server_fakes import quiet
from helpers.ws_app import DIALOGUE, QUERY, pcm16, receive_all, stream, turn_events
from prometheus_client.parser import text_string_to_metric_families
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from flux_cli.server.app import language_refusal
from flux_cli.server.service import ServeOptions


def metric_values(text: str) -> dict[str, float]:
    """``name{label="v"}`` → value, for every sample in a Prometheus text exposition."""
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            out[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return out


def test_health_ready_status_and_metrics() -> None:
    async def body(port: int) -> None:
        assert (await get(port, "/healthz"))[:2] == (200, "ok\n")
        assert (await get(port, "/readyz"))[:2] == (200, "ready\n")
        code, text, headers = await get(port, "/v1/status")
        status = json.loads(text)
        assert code == 200 and headers["content-type"] == "application/json"
        assert status["health"] == "ok" and status["ready"] is True
        assert status["active_streams"] == 0 and status["max_streams"] == 3
        assert status["workers"] == 1 and status["uptime_s"] >= 0
        assert status["version"] and status["models"]["languages"] == ["en"]
        # the fake engine has no speaker encoder; the real one's default is "call"
        assert status["models"]["voice_change"] == "off"
        code, text, headers = await get(port, "/metrics")
        assert code == 200 and headers["content-type"].startswith("text/plain")
        before = metric_values(text)
        assert before["flux_active_streams"] == 0

        async with connect(f"ws://127.0.0.1:{port}/v2/listen?{QUERY}") as ws:
            sender = asyncio.create_task(stream(ws, DIALOGUE))
            await ws.recv()  # Connected: the stream is open
            during = json.loads((await get(port, "/v1/status"))[1])
            assert during["active_streams"] == 1
            messages = await receive_all(ws)
            await sender
        assert turn_events(messages) == ["StartOfTurn", "EndOfTurn"] * 2
        after: dict[str, float] = {}
        for _ in range(50):  # the slot is given back when the TCP connection has closed
            after = metric_values((await get(port, "/metrics"))[1])
            if after["flux_active_streams"] == 0:
                break
            await asyncio.sleep(0.05)
        assert after["flux_active_streams"] == 0
        assert after['flux_streams_total{outcome="completed"}'] == 1
        assert after["flux_audio_seconds_total"] == pytest.approx(7.0, abs=0.1)
        assert after["flux_decode_seconds_count"] >= 2
        assert after["flux_smart_turn_seconds_count"] >= 2
        assert after["flux_end_of_turn_delay_seconds_count"] == 2
        assert after["flux_real_time_factor_count"] == 1
        assert after["flux_processing_seconds_total"] > 0

    with_server(body, max_streams=3)


def test_capacity_429_with_dg_error_and_readyz() -> None:
    async def body(port: int) -> None:
        url = f"ws://127.0.0.1:{port}/v2/listen?{QUERY}"
        async with connect(url) as first, connect(url) as second:
            await first.recv()
            await second.recv()
            assert (await get(port, "/readyz"))[:2] == (503, "at capacity: 2 streams\n")
            with pytest.raises(InvalidStatus) as info:
                async with connect(url):
                    pass
            response = info.value.response
            assert response.status_code == 429
            assert "too many concurrent streams" in response.headers["dg-error"]
            assert response.headers["dg-request-id"]
            for ws in (first, second):
                await ws.send(json.dumps({"type": "CloseStream"}))
                await receive_all(ws)
        for _ in range(50):
            if (await get(port, "/readyz"))[0] == 200:
                break
            await asyncio.sleep(0.05)
        assert (await get(port, "/readyz"))[0] == 200
        async with connect(url) as again:  # slots came back
            assert json.loads(await again.recv())["type"] == "Connected"
        metrics = metric_values((await get(port, "/metrics"))[1])
        assert metrics['flux_refusals_total{reason="capacity"}'] == 1

    with_server(body, max_streams=2)


@pytest.mark.parametrize(("query", "status", "words"), [
    ("model=flux-general-multi&encoding=linear16&sample_rate=16000", 400, "English-only"),
    ("model=flux-general-multi&language_hint=de&encoding=linear16&sample_rate=16000", 400,
     "English-only"),
    (f"{QUERY}&language_hint=en", 400, "language_hint is only accepted with"),
])
def test_language_rules_like_the_live_service(query: str, status: int, words: str) -> None:
    async def body(port: int) -> None:
        with pytest.raises(InvalidStatus) as info:
            async with connect(f"ws://127.0.0.1:{port}/v2/listen?{query}"):
                pass
        assert info.value.response.status_code == status
        assert words in info.value.response.headers["dg-error"]

    with_server(body)


def test_language_refusal_is_pure() -> None:
    assert language_refusal(QUERY) is None
    assert language_refusal("model=flux-general-en&language_hint=fr") is not None
    assert "English-only" in (language_refusal("model=flux-general-multi") or "")


def test_api_key_is_never_logged_and_endpoints_need_none(caplog: pytest.LogCaptureFixture) -> None:
    key = "sEcReT-KeY-1234"

    async def body(port: int) -> None:
        url = f"ws://127.0.0.1:{port}/v2/listen?{QUERY}"
        with pytest.raises(InvalidStatus):
            async with connect(url, additional_headers={"Authorization": f"Token {key}x"}):
                pass
        async with connect(url, additional_headers={"Authorization": f"Token {key}"}) as ws:
            await ws.send(pcm16(quiet(0.3)))
            await ws.send("{broken")
            await receive_all(ws)
        for path in ("/healthz", "/readyz", "/v1/status", "/metrics"):
            code, text, headers = await get(port, path)
            assert code == 200 and key not in text and key not in str(headers)

    caplog.set_level(logging.DEBUG)
    with_server(body, api_key=key)
    server_records = [r for r in caplog.records if r.name.startswith("flux_cli")]
    assert any("Authorization" in r.getMessage() for r in server_records)  # headers are logged
    assert all(key not in r.getMessage() for r in server_records)  # but never the key


def test_default_bind_is_loopback() -> None:
    assert ServeOptions().host == "127.0.0.1"
