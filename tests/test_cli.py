"""``python -m flux_cli`` in a subprocess: real pipes, signals, exit codes and messages."""

from __future__ import annotations

import os
import pty
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr
from conftest import timeout
from helpers.audio_testutil import pipe_from_process
from helpers.cli import FLUX, env, flux, speechless
from helpers.scripted_server import REQUEST_ID, Script, ScriptedServer, Step, turn
from helpers.speech import RATE as SPEECH_RATE
from helpers.speech import load_clip

pytestmark = pytest.mark.slow  # real models or processes: the full tier

SECRET = "sk-test-4f3c2b1a0099"


TURNS = [
    Step(4, turn("StartOfTurn", 0, 0.0, 0.32, "Hello")),
    Step(10, turn("EndOfTurn", 0, 0.0, 0.8, "Hello, how are you?", trigger="model")),
    Step(15, turn("EndOfTurn", 1, 1.0, 1.2, "Fine.", trigger="model")),
    Step(20, turn("EndOfTurn", 2, 1.3, 1.6, "Good.", trigger="model")),
]


def one_error_line(stderr: str) -> str:
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("flux: error: ")
    return lines[0]


def test_version() -> None:
    result = flux("--version")
    assert result.returncode == 0 and result.stdout.strip() == "flux 0.1.0"


def transcribe_from_pipe(path: Path, url: str) -> subprocess.CompletedProcess[str]:
    """``cat path | flux transcribe -``, with another process writing into a real pipe."""
    cat = pipe_from_process(path)
    try:
        return subprocess.run(
            [*FLUX, "transcribe", "-", "--url", url, "--output", "text"],
            stdin=cat.stdout,
            capture_output=True,
            text=True,
            env=env(),
            timeout=timeout(60),
        )
    finally:
        assert cat.stdout is not None
        cat.stdout.close()
        cat.wait()


def test_wav_through_a_real_pipe(tmp_path: Path) -> None:
    speechless(tmp_path / "a.wav", 2.0)
    with ScriptedServer(Script(steps=TURNS)) as srv:
        result = transcribe_from_pipe(tmp_path / "a.wav", srv.url)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "[00:00.00-00:00.80] Hello, how are you?",
        "[00:01.00-00:01.20] Fine.",
        "[00:01.30-00:01.60] Good.",
    ]
    assert [len(f) for f, _ in srv.last.frames] == [2560] * 25
    assert srv.last.events[-1] == "CloseStream"


def test_compressed_stdin_is_buffered_with_a_notice(tmp_path: Path) -> None:
    data = speechless(tmp_path / "a.wav", 2.0)
    sf.write(tmp_path / "a.flac", data, 16000, format="FLAC")
    with ScriptedServer(Script(steps=TURNS)) as srv:
        result = transcribe_from_pipe(tmp_path / "a.flac", srv.url)
    assert result.returncode == 0, result.stderr
    notice, summary = result.stderr.splitlines()
    assert notice == (
        "flux: stdin is compressed audio (FLAC/Ogg/MP3): reading all of it before sending"
    )
    assert summary.startswith("flux: 3 turns · 2.0 s of audio · server delay p50 ")
    assert [len(f) for f, _ in srv.last.frames] == [2560] * 25


def _raw_8k_through_a_pipe(url: str, *extra: str) -> tuple[subprocess.CompletedProcess[str],
                                                            np.ndarray]:
    rate = 8000
    t = np.arange(rate * 2) / rate
    pcm = (0.3 * np.sin(2 * np.pi * 200 * t) * 32767).astype("<i2")
    result = flux("transcribe", "-", "--url", url, "--input-format", "s16le",
                  "--input-rate", str(rate), "--input-channels", "1", *extra,
                  stdin=pcm.tobytes())
    return result, pcm


def test_raw_phone_rate_pcm_through_a_pipe_goes_at_its_own_rate() -> None:
    """8 kHz input without --sample-rate is sent at 8 kHz, sample for sample."""
    with ScriptedServer() as srv:
        result, pcm = _raw_8k_through_a_pipe(srv.url)
    assert result.returncode == 0, result.stderr
    assert "encoding=linear16&sample_rate=8000" in srv.last.raw_query
    sizes = [len(f) for f, _ in srv.last.frames]
    assert sizes == [1280] * 25  # 80 ms at 8 kHz
    assert srv.last.audio == pcm.tobytes()


def test_raw_pcm_through_a_pipe_resampled_to_the_rate_asked() -> None:
    with ScriptedServer() as srv:
        result, pcm = _raw_8k_through_a_pipe(srv.url, "--sample-rate", "16000")
    assert result.returncode == 0, result.stderr
    assert "encoding=linear16&sample_rate=16000" in srv.last.raw_query
    expected = len(soxr.resample(pcm.astype(np.float32) / 32768, 8000, 16000))
    sizes = [len(f) for f, _ in srv.last.frames]
    assert sizes[:-1] == [2560] * (len(sizes) - 1)
    assert abs(len(srv.last.audio) // 2 - expected) <= 1


def test_json_output_and_env_url(tmp_path: Path) -> None:
    speechless(tmp_path / "a.wav", 2.0)
    with ScriptedServer(Script(steps=TURNS)) as srv:
        result = flux(
            "transcribe",
            str(tmp_path / "a.wav"),
            "--fast",
            "--output",
            "json",
            FLUX_URL=srv.url,
            DEEPGRAM_API_KEY=SECRET,
        )
    assert result.returncode == 0, result.stderr
    import json

    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["transcript"] for r in records] == ["Hello, how are you?", "Fine.", "Good."]
    assert srv.last.headers["authorization"] == f"Token {SECRET}"
    assert SECRET not in result.stdout + result.stderr


def test_refused_handshake_is_one_line_exit_4(tmp_path: Path) -> None:
    speechless(tmp_path / "a.wav", 0.5)
    with ScriptedServer(Script(refuse=(401, "Invalid credentials"))) as srv:
        result = flux(
            "transcribe",
            str(tmp_path / "a.wav"),
            "--url",
            srv.url,
            "--api-key",
            SECRET,
            "--output",
            "text",
        )
    assert result.returncode == 4
    assert one_error_line(result.stderr) == (
        "flux: error: handshake refused: HTTP 401; dg-error: Invalid credentials; "
        f"dg-request-id: {REQUEST_ID}"
    )


def test_server_error_is_exit_5(tmp_path: Path) -> None:
    speechless(tmp_path / "a.wav", 1.0)
    script = Script(
        steps=[
            Step(
                2,
                {"type": "Error", "code": "UNPARSABLE_CLIENT_MESSAGE", "description": "bad frame"},
                close_after=True,
            )
        ],
        close_code=1011,
    )
    with ScriptedServer(script) as srv:
        result = flux("transcribe", str(tmp_path / "a.wav"), "--url", srv.url, "--fast")
    assert result.returncode == 5
    assert one_error_line(result.stderr) == (
        "flux: error: server error UNPARSABLE_CLIENT_MESSAGE: bad frame"
    )


def test_abrupt_close_is_exit_4_and_the_key_stays_secret(tmp_path: Path) -> None:
    speechless(tmp_path / "a.wav", 1.0)
    with ScriptedServer(Script(steps=TURNS[:1], drop_after_frames=6)) as srv:
        result = flux(
            "transcribe",
            str(tmp_path / "a.wav"),
            "--url",
            srv.url,
            "--debug",
            "--speed",
            "4",
            "--reconnect",
            "0",
            DEEPGRAM_API_KEY=SECRET,
        )
    assert result.returncode == 4
    assert "Traceback" in result.stderr  # --debug shows it ...
    assert SECRET not in result.stderr + result.stdout  # ... without the key
    assert result.stderr.splitlines()[-1].startswith("flux: error: connection dropped")
    assert result.stdout == "[00:00.00-00:00.32] Hello (unfinished)\n"


def test_bad_flag_value_is_one_line_exit_2(tmp_path: Path) -> None:
    speechless(tmp_path / "a.wav", 0.5)
    for args, fragment in [
        (["--eot-threshold", "2"], "eot_threshold must be between 0.5 and 1, got 2"),
        (["--sample-rate", "22050"], "sample_rate must be one of"),
        (["--sample-rate", "abc"], "Invalid value for '--sample-rate'"),
        (["--output", "fancy"], "--output must be one of"),
        (["--no-such-flag"], "No such option"),
    ]:
        result = flux(
            "transcribe", str(tmp_path / "a.wav"), "--url", "ws://127.0.0.1:9/v2/listen", *args
        )
        assert result.returncode == 2, (args, result.stderr)
        assert fragment in one_error_line(result.stderr)


def test_bad_audio_is_exit_3(tmp_path: Path) -> None:
    (tmp_path / "corrupt.wav").write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt garbage" * 3)
    (tmp_path / "empty.wav").write_bytes(b"")
    for name in ["corrupt.wav", "empty.wav", "missing.wav"]:
        result = flux(
            "transcribe",
            str(tmp_path / name),
            "--url",
            "ws://127.0.0.1:9/v2/listen",
            "--api-key",
            SECRET,
            "--debug",
        )
        assert result.returncode == 3, result.stderr
        line = result.stderr.splitlines()[-1]
        assert line.startswith("flux: error: ") and name in line
        assert SECRET not in result.stderr


# ``head -1`` in Python: copy one line, then exit and so close the pipe under the writer.
HEAD_1 = [
    sys.executable,
    "-c",
    "import sys; sys.stdout.buffer.write(sys.stdin.buffer.readline()); sys.stdout.flush()",
]


def test_closed_stdout_pipe_ends_quietly(tmp_path: Path) -> None:
    speechless(tmp_path / "a.wav", 2.0)
    with ScriptedServer(Script(steps=TURNS)) as srv:
        proc = subprocess.Popen(
            [*FLUX, "transcribe", str(tmp_path / "a.wav"), "--url", srv.url, "--speed", "4"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env(),
        )
        head = subprocess.run(HEAD_1, stdin=proc.stdout, capture_output=True, timeout=timeout(30))
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.close()
        stderr = proc.stderr.read().decode()
        proc.stderr.close()
        code = proc.wait(timeout(30))
    assert head.stdout.decode() == "[00:00.00-00:00.80] Hello, how are you?\n"
    assert code == 0
    assert stderr == ""


def test_ctrl_c_closes_the_stream_and_exits_130(tmp_path: Path) -> None:
    speechless(tmp_path / "a.wav", 10.0)
    script = Script(
        steps=[
            Step(3, turn("StartOfTurn", 0, 0.0, 0.24, "Wait")),
            Step("CloseStream", turn("Update", 0, 0.0, 0.9, "Wait for it")),
        ]
    )
    with ScriptedServer(script) as srv:
        proc = subprocess.Popen(
            [*FLUX, "transcribe", str(tmp_path / "a.wav"), "--url", srv.url, "--output", "text"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env(),
        )
        deadline = time.monotonic() + timeout(20)
        while (not srv.sessions or len(srv.last.frames) < 10) and time.monotonic() < deadline:
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=timeout(20))
        rec = srv.last
    assert proc.returncode == 130, err
    assert rec.events[-1] == "CloseStream"
    assert len(rec.frames) < 60  # sending stopped long before the 125 frames of the file
    assert out == "[00:00.00-00:00.90] Wait for it (unfinished)\n"
    assert "Traceback" not in err


def test_second_ctrl_c_leaves_at_once(tmp_path: Path) -> None:
    speechless(tmp_path / "a.wav", 10.0)
    with ScriptedServer(Script(close_on_close_stream=False)) as srv:
        proc = subprocess.Popen(
            [*FLUX, "transcribe", str(tmp_path / "a.wav"), "--url", srv.url],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env(),
        )
        deadline = time.monotonic() + timeout(20)
        while (not srv.sessions or len(srv.last.frames) < 5) and time.monotonic() < deadline:
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        while "CloseStream" not in srv.last.events and time.monotonic() < deadline:
            time.sleep(0.05)
        started = time.monotonic()
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=timeout(20))
        took = time.monotonic() - started
    assert proc.returncode == 130, err
    assert took < 3.0  # not the 5 s a single Ctrl-C waits for the server
    assert "Traceback" not in err


def run_in_pty(args: list[str], **kw: str) -> tuple[int, str]:
    """Run with stdout on a pseudo-terminal (so ``--output auto`` picks the live panel)."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        args,
        stdout=follower,
        stderr=subprocess.PIPE,
        env=env(COLUMNS="100", LINES="30", TERM="xterm-256color", **kw),
    )
    os.close(follower)
    chunks: list[bytes] = []
    while True:
        try:
            data = os.read(leader, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    os.close(leader)
    _, err = proc.communicate(timeout=timeout(30))
    assert b"Traceback" not in err
    return proc.returncode, b"".join(chunks).decode("utf-8", "replace")


COLOUR = re.compile(r"\x1b\[[0-9;]*(3[0-7]|9[0-7]|38;[25];[0-9;]+)m")


def test_auto_output_in_a_terminal_is_the_live_panel_and_honours_no_color(tmp_path: Path) -> None:
    speechless(tmp_path / "a.wav", 2.0)
    with ScriptedServer(Script(steps=TURNS)) as srv:
        args = [*FLUX, "transcribe", str(tmp_path / "a.wav"), "--url", srv.url, "--speed", "4"]
        code, screen = run_in_pty(args)
        assert code == 0
        assert "end of turn" in screen and "Hello, how are you?" in screen
        assert COLOUR.search(screen)
        code, screen = run_in_pty(args, NO_COLOR="1")
    assert code == 0
    assert "Hello, how are you?" in screen
    assert not COLOUR.search(screen)


def speech(tmp_path: Path) -> Path:
    """Real speech followed by silence, so the local engine has a turn to find.

    The committed flite clip of "I would like to book a table for two." (tests/data/speech).
    """
    data, info = load_clip("book_table_for_two")
    assert "table" in info["text"]
    rate = SPEECH_RATE
    padded = np.concatenate([np.zeros(rate // 2, np.float32), data, np.zeros(rate, np.float32)])
    path = tmp_path / "speech.wav"
    sf.write(path, padded, rate, subtype="PCM_16")
    return path


def test_no_url_and_no_key_uses_the_local_engine(tmp_path: Path) -> None:
    result = flux("transcribe", str(speech(tmp_path)), "--fast", "--force-end-turn")
    assert result.returncode == 0, result.stderr
    status = result.stderr.splitlines()
    assert status[0] == ("flux: no --url and no DEEPGRAM_API_KEY: using the local engine "
                         "(Whisper tiny.en)")
    # the turn may already have ended by itself, in which case ForceEndTurn gets a Warning
    assert all("FORCE_END_TURN_NO_ACTIVE_TURN" in line for line in status[1:-1])
    assert status[-1].startswith("flux: 1 turn ")  # the end-of-run summary (read as latin-1)
    lines = result.stdout.splitlines()
    assert len(lines) == 1 and "table" in lines[0].lower()
    assert lines[0].startswith("[00:00.")


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM], ids=["int", "term"])
def test_serve_command_serves_the_client(tmp_path: Path, stop_signal: signal.Signals) -> None:
    import socket as socketlib

    with socketlib.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [*FLUX, "serve", "--port", str(port)],
        env=env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + timeout(60)
        while time.monotonic() < deadline:
            try:
                socketlib.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        result = flux(
            "transcribe",
            str(speech(tmp_path)),
            "--url",
            f"ws://127.0.0.1:{port}",
            "--fast",
            "--output",
            "json",
        )
    finally:
        server.send_signal(stop_signal)
        _, server_err = server.communicate(timeout=timeout(20))
    assert result.returncode == 0, result.stderr
    assert "table" in result.stdout.lower()
    assert server.returncode == 0
    assert server_err.splitlines()[-1] == "server stopped"
    assert "Traceback" not in server_err
