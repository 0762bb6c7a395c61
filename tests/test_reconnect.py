"""Reconnect without losing audio, over real loopback sockets.

A scripted server drops the first connection mid-turn (TCP abort, no close frame) and
accepts the next: the client resumes from the last ``EndOfTurn``, every byte of the file
reaches a server, the re-sent turn is shown once, and the JSONL timeline never goes back.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
from helpers.reconnect import FIRST, SECOND
from helpers.scripted_server import Script, ScriptedServer

from flux_cli.env import Env
from flux_cli.errors import ConnectionFailed
from flux_cli.transcribe.settings import TranscribeSettings
from flux_cli.transcribe.single import run

BYTES_PER_S = 32000


class Streams:
    def __init__(self) -> None:
        self.out = io.StringIO()
        self.err = io.StringIO()
        self.env = Env(stdin=io.BytesIO(b""), stdout=self.out, stderr=self.err, stdout_isatty=False)


def tone_wav(path: Path, seconds: float) -> bytes:
    """A tone whose linear16 samples are what the server must receive, byte for byte."""
    t = np.arange(round(seconds * 16000)) / 16000
    data = np.rint(0.2 * np.sin(2 * np.pi * 330 * t) * 32767).astype("<i2")
    sf.write(path, data, 16000, subtype="PCM_16")
    return data.tobytes()


def settings(path: Path, url: str, **kw: Any) -> TranscribeSettings:
    return TranscribeSettings(source=str(path), url=url, **{"speed": 4.0, "output": "text", **kw})


# The resumed connection counts from 0.8 s of the file (where turn 0 ended).


def test_a_drop_mid_turn_resumes_with_no_audio_lost(tmp_path: Path) -> None:
    pcm = tone_wav(tmp_path / "a.wav", 3.0)
    log = tmp_path / "log.jsonl"
    streams = Streams()
    with ScriptedServer(FIRST, then=[SECOND]) as srv:
        code = run(settings(tmp_path / "a.wav", srv.url, jsonl=str(log)), streams.env)
        first, second = srv.sessions
    assert code == 0, streams.err.getvalue()
    # Every byte reached a server: the first up to the drop, the second from 0.8 s on.
    assert pcm.startswith(first.audio) and len(first.audio) >= 20 * 2560
    assert second.audio == pcm[int(0.8 * BYTES_PER_S) :]
    assert second.events[-1] == "CloseStream"
    # The re-sent turn is shown once, on the file's timeline.
    assert streams.out.getvalue().splitlines() == [
        "[00:00.00-00:00.80] Hello there.",
        "[00:01.00-00:01.76] Second turn, again.",
    ]
    assert "reconnected; re-sending" in streams.err.getvalue()
    records = [json.loads(line) for line in log.read_text().splitlines()]
    ends = [r["audio_window_end"] for r in records if r.get("type") == "TurnInfo"]
    assert ends == sorted(ends) and ends[-1] == pytest.approx(3.0)
    reconnects = [r for r in records if r.get("type") == "ClientReconnect"]
    assert len(reconnects) == 1
    assert reconnects[0]["resume_from"] == 0.8 and reconnects[0]["turn_offset"] == 1
    eots = [r for r in records if r.get("event") == "EndOfTurn"]
    assert [r["turn_index"] for r in eots] == [0, 1]


def test_reconnect_0_keeps_the_old_behaviour(tmp_path: Path) -> None:
    tone_wav(tmp_path / "a.wav", 3.0)
    streams = Streams()
    with (
        ScriptedServer(FIRST, then=[SECOND]) as srv,
        pytest.raises(ConnectionFailed, match="connection dropped"),
    ):
        run(settings(tmp_path / "a.wav", srv.url, reconnect=0), streams.env)
    assert len(srv.sessions) == 1
    assert streams.out.getvalue().splitlines() == [
        "[00:00.00-00:00.80] Hello there.",
        "[00:01.00-00:01.44] Second turn (unfinished)",
    ]


def test_a_server_that_drops_every_time_is_given_up_on(tmp_path: Path) -> None:
    tone_wav(tmp_path / "a.wav", 3.0)
    with (
        ScriptedServer(Script(drop_after_frames=5)) as srv,
        pytest.raises(ConnectionFailed, match="gave up after 2 reconnect attempts"),
    ):
        run(settings(tmp_path / "a.wav", srv.url, reconnect=2), Streams().env)
    assert len(srv.sessions) == 3


TOO_MANY = Script(refuse=(429, "Too many concurrent requests"))


def test_429_is_retried_and_a_later_success_is_exit_0(tmp_path: Path) -> None:
    tone_wav(tmp_path / "a.wav", 0.5)
    streams = Streams()
    with ScriptedServer(TOO_MANY, then=[Script()]) as srv:
        assert run(settings(tmp_path / "a.wav", srv.url), streams.env) == 0
    assert len(srv.sessions) == 2 and len(srv.last.audio) == 16000
    assert "HTTP 429" in streams.err.getvalue()


def test_429_forever_is_exit_4_with_its_own_message(tmp_path: Path) -> None:
    tone_wav(tmp_path / "a.wav", 0.5)
    with ScriptedServer(TOO_MANY) as srv, pytest.raises(ConnectionFailed) as info:
        run(settings(tmp_path / "a.wav", srv.url, reconnect=2), Streams().env)
    assert info.value.exit_code == 4
    assert "HTTP 429: too many concurrent streams" in info.value.message
    assert len(srv.sessions) == 3


def test_a_refused_reconnect_ends_with_that_error(tmp_path: Path) -> None:
    tone_wav(tmp_path / "a.wav", 3.0)
    refused = Script(refuse=(401, "Invalid credentials."))
    with (
        ScriptedServer(FIRST, then=[refused]) as srv,
        pytest.raises(ConnectionFailed, match="HTTP 401; dg-error: Invalid credentials"),
    ):
        run(settings(tmp_path / "a.wav", srv.url), Streams().env)
    assert len(srv.sessions) == 2
