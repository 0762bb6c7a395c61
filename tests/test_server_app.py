"""The websockets app over real loopback sockets, with the scripted fake engine.

Each test starts ``serve(port=0, engine=fake)`` in its own event loop and talks to it with the
``websockets`` asyncio client: handshake refusals, auth, fatal errors, controls, isolation.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from conftest import timeout
from helpers.server_fakes import PINNED, FixedSmartTurn, LevelVadFactory, fake_engine, quiet, script
from helpers.ws_app import DIALOGUE, QUERY, pcm16, receive_all, stream, turn_events
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus

from flux_cli.engine.interfaces import Audio, Engine, Transcript
from flux_cli.server.app import serve, server_port


def with_server(
    body: Callable[[str], Awaitable[None]], *, engine: Engine | None = None, **kwargs: Any
) -> None:
    """Run ``body(base_url)`` against a fresh server on a free port."""

    async def main() -> None:
        server = await serve(port=0, engine=engine or fake_engine(), detector=PINNED, **kwargs)
        try:
            base = f"ws://127.0.0.1:{server_port(server)}"
            await asyncio.wait_for(body(base), timeout(30))
        finally:
            server.close()
            await server.wait_closed()

    asyncio.run(main())


def refused(path_and_query: str, *, api_key: str | None = None, **kwargs: Any) -> InvalidStatus:
    """Connect and expect the handshake to be refused; return the refusal."""
    caught: list[InvalidStatus] = []

    async def body(base: str) -> None:
        with pytest.raises(InvalidStatus) as info:
            async with connect(base + path_and_query, **kwargs):
                pass
        caught.append(info.value)

    with_server(body, api_key=api_key)
    return caught[0]


def test_full_stream_turns_and_normal_close() -> None:
    async def body(base: str) -> None:
        async with connect(f"{base}/v2/listen?{QUERY}") as ws:
            assert ws.response is not None
            request_id = ws.response.headers["dg-request-id"]
            sender = asyncio.create_task(stream(ws, DIALOGUE))
            messages = await receive_all(ws)
            await sender
            assert ws.close_code == 1000
        assert messages[0] == {"type": "Connected", "request_id": request_id, "sequence_id": 0}
        assert [m["sequence_id"] for m in messages] == list(range(len(messages)))
        assert turn_events(messages) == ["StartOfTurn", "EndOfTurn"] * 2
        ends = [m for m in messages if m.get("event") == "EndOfTurn"]
        assert [m["transcript"] for m in ends] == [
            "alfa bravo charlie delta echo foxtrot.", "alfa bravo charlie delta."
        ]
        assert all(m["request_id"] == request_id for m in messages)

    with_server(body)


def test_paced_and_fast_streams_end_turns_identically() -> None:
    async def run(base: str, pace: float) -> list[dict[str, Any]]:
        async with connect(f"{base}/v2/listen?{QUERY}") as ws:
            sender = asyncio.create_task(stream(ws, DIALOGUE, pace=pace))
            messages = await receive_all(ws)
            await sender
        return [m for m in messages if m.get("event") in ("StartOfTurn", "EndOfTurn")]

    async def body(base: str) -> None:
        fast = await run(base, 0.0)
        paced = await run(base, 8.0)
        strip = [{k: v for k, v in m.items() if k not in ("request_id", "sequence_id")}
                 for m in fast]
        assert strip == [{k: v for k, v in m.items() if k not in ("request_id", "sequence_id")}
                         for m in paced]
        assert len(fast) == 4

    with_server(body)


def test_bad_query_is_400_with_dg_error_and_request_id() -> None:
    refusal_ = refused(f"/v2/listen?{QUERY}&eot_threshold=2")
    assert refusal_.response.status_code == 400
    assert "eot_threshold" in refusal_.response.headers["dg-error"]
    assert refusal_.response.headers["dg-request-id"]
    assert b"eot_threshold" in refusal_.response.body


def test_unknown_parameter_is_400() -> None:
    refusal_ = refused(f"/v2/listen?{QUERY}&colour=blue")
    assert refusal_.response.status_code == 400
    assert "colour" in refusal_.response.headers["dg-error"]


def test_other_path_is_404_with_request_id() -> None:
    refusal_ = refused(f"/v1/listen?{QUERY}")
    assert refusal_.response.status_code == 404
    assert refusal_.response.headers["dg-request-id"]


def test_wrong_or_missing_key_is_401() -> None:
    wrong = refused(f"/v2/listen?{QUERY}", api_key="s3cret",
                    additional_headers={"Authorization": "Token nope"})
    assert wrong.response.status_code == 401
    assert wrong.response.headers["dg-request-id"]
    assert "s3cret" not in str(wrong.response.headers) and b"s3cret" not in wrong.response.body
    missing = refused(f"/v2/listen?{QUERY}", api_key="s3cret")
    assert missing.response.status_code == 401


def test_auth_by_header_and_by_subprotocol() -> None:
    async def body(base: str) -> None:
        url = f"{base}/v2/listen?{QUERY}"
        async with connect(url, additional_headers={"Authorization": "Token s3cret"}) as ws:
            assert json.loads(await ws.recv())["type"] == "Connected"
            assert ws.response is not None and ws.response.headers["dg-request-id"]
        async with connect(url, subprotocols=["token", "s3cret"]) as ws:  # type: ignore[list-item]
            assert ws.subprotocol == "token"
            assert json.loads(await ws.recv())["type"] == "Connected"

    with_server(body, api_key="s3cret")


async def expect_error(ws: ClientConnection, code: str, close_code: int) -> dict[str, Any]:
    messages = await receive_all(ws)
    errors = [m for m in messages if m["type"] == "Error"]
    assert [e["code"] for e in errors] == [code]
    assert messages[-1] is errors[0]
    assert ws.close_code == close_code
    return errors[0]


def test_garbage_json_is_an_error_then_close() -> None:
    async def body(base: str) -> None:
        async with connect(f"{base}/v2/listen?{QUERY}") as ws:
            await ws.send(pcm16(quiet(0.5)))
            await ws.send("{not json")
            error = await expect_error(ws, "UNPARSABLE_CLIENT_MESSAGE", 1008)
            assert error["description"]
        async with connect(f"{base}/v2/listen?{QUERY}") as ws:
            await ws.send(json.dumps({"type": "Dance"}))
            await expect_error(ws, "UNPARSABLE_CLIENT_MESSAGE", 1008)

    with_server(body)


def test_idle_timeout() -> None:
    async def body(base: str) -> None:
        async with connect(f"{base}/v2/listen?{QUERY}") as ws:
            await ws.send(pcm16(quiet(0.3)))
            await ws.send(b"")  # ignored, and it is not audio
            error = await expect_error(ws, "NO_AUDIO_TIMEOUT", 1011)
            assert "0.5" in error["description"]

    with_server(body, idle_timeout_s=0.5)


def test_controls_over_the_socket() -> None:
    async def body(base: str) -> None:
        async with connect(f"{base}/v2/listen?{QUERY}") as ws:
            await ws.send(pcm16(quiet(0.3)))
            await ws.send(json.dumps({"type": "KeepAlive"}))
            await ws.send(json.dumps({"type": "ForceEndTurn"}))
            await ws.send(json.dumps({"type": "Configure", "thresholds": {"eot_threshold": 0.9}}))
            await ws.send(json.dumps({"type": "Configure", "thresholds": {"eot_threshold": 9}}))
            await ws.send(pcm16(script(("speech", 1.0))))
            await ws.send(json.dumps({"type": "Finalize"}))
            await ws.send(json.dumps({"type": "CloseStream"}))
            messages = await receive_all(ws)
        kinds = [m["type"] for m in messages if m["type"] != "TurnInfo"]
        assert kinds == ["Connected", "Warning", "ConfigureSuccess", "ConfigureFailure"]
        success = next(m for m in messages if m["type"] == "ConfigureSuccess")
        assert success["thresholds"]["eot_threshold"] == 0.9
        end = next(m for m in messages if m.get("event") == "EndOfTurn")
        assert end["trigger"] == "manual" and end["transcript"] == "alfa bravo charlie delta."

    with_server(body)


def test_finalize_in_the_first_second_meets_the_audio_before_it() -> None:
    """The wire decoder holds a 16 kHz stream's first second for the band check's verdict
    (``phone_line.MaybePhoneLine``); a control message releases it, so Finalize after 0.6 s
    of speech ends a turn that holds that speech."""
    async def body(base: str) -> None:
        async with connect(f"{base}/v2/listen?{QUERY}") as ws:
            await ws.send(pcm16(script(("speech", 0.6))))
            await ws.send(json.dumps({"type": "Finalize"}))
            await ws.send(json.dumps({"type": "CloseStream"}))
            messages = await receive_all(ws)
        ends = [m for m in messages if m.get("event") == "EndOfTurn"]
        assert len(ends) == 1 and ends[0]["trigger"] == "manual", messages
        assert ends[0]["transcript"] and ends[0]["audio_window_end"] >= 0.5

    with_server(body)


class ExplodingTranscriber:
    """Fails on the first decode: the connection must die alone."""

    def transcribe(
        self, audio: Audio, *, offset_s: float, hotwords: Any = (), languages: Any = None
    ) -> Transcript:
        raise RuntimeError("boom")


def test_a_failing_connection_does_not_disturb_another() -> None:
    async def good(base: str) -> list[dict[str, Any]]:
        async with connect(f"{base}/v2/listen?{QUERY}") as ws:
            sender = asyncio.create_task(stream(ws, DIALOGUE, pace=10.0))
            messages = await receive_all(ws)
            await sender
        return messages

    async def garbage(base: str) -> None:
        async with connect(f"{base}/v2/listen?{QUERY}") as ws:
            await ws.send(pcm16(quiet(0.5)))
            await asyncio.sleep(0.1)
            await ws.send("garbage")
            await expect_error(ws, "UNPARSABLE_CLIENT_MESSAGE", 1008)

    async def body(base: str) -> None:
        messages, _ = await asyncio.gather(good(base), garbage(base))
        assert turn_events(messages) == ["StartOfTurn", "EndOfTurn"] * 2
        # the server still serves new connections
        assert turn_events(await good(base)) == ["StartOfTurn", "EndOfTurn"] * 2

    with_server(body)


def test_an_exception_in_the_engine_is_contained() -> None:
    engine = Engine(vad=LevelVadFactory(), transcriber=ExplodingTranscriber(),
                    smart_turn=FixedSmartTurn())

    async def body(base: str) -> None:
        async with connect(f"{base}/v2/listen?{QUERY}") as ws:
            await ws.send(pcm16(script(("silence", 0.3), ("speech", 1.0))))
            error = await expect_error(ws, "INTERNAL_SERVER_ERROR", 1011)
            assert "boom" in error["description"]
        async with connect(f"{base}/v2/listen?{QUERY}") as ws:
            await ws.send(pcm16(quiet(0.6)))
            await ws.send(json.dumps({"type": "CloseStream"}))
            messages = await receive_all(ws)
            assert ws.close_code == 1000
        assert [m["type"] for m in messages][:2] == ["Connected", "TurnInfo"]

    with_server(body, engine=engine)


def test_undecodable_container_audio_is_an_error() -> None:
    async def body(base: str) -> None:
        async with connect(f"{base}/v2/listen?model=flux-general-en") as ws:
            await ws.send(b"this is not a wav file at all, not even close" * 20)
            await ws.send(json.dumps({"type": "CloseStream"}))
            messages = await receive_all(ws)
        errors = [m for m in messages if m["type"] == "Error"]
        assert len(errors) == 1 and ws.close_code == 1008

    with_server(body)
