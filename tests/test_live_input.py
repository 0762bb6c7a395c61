"""Live input that never crashes: a real pipe that goes quiet while the session ends.

The reader thread is blocked in a read of stdin (or of a FIFO given by path) when the server
sends an ``Error`` or drops the connection. The process must exit with the documented code
(5, 4), never abort at interpreter shutdown (exit 134), and report the turn in progress.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import timeout
from helpers.scripted_server import Script, ScriptedServer, Step, turn

pytestmark = pytest.mark.slow  # real models or processes: the full tier

FLUX = [sys.executable, "-m", "flux_cli"]
PIPE_WRITER = Path(__file__).resolve().parent / "helpers" / "pipe_writer.py"
STALL_S = 60.0


def tone_wav(path: Path, seconds: float) -> None:
    t = np.arange(round(seconds * 16000)) / 16000
    sf.write(path, (0.2 * np.sin(2 * np.pi * 330 * t)).astype(np.float32), 16000)


def env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("DEEPGRAM_API_KEY", "FLUX_URL")}


def stalling_pipe(
    path: Path, stall_after: int, stall_s: float = STALL_S
) -> subprocess.Popen[bytes]:
    """A writer that sends the first ``stall_after`` bytes, then holds the pipe open, silent."""
    return subprocess.Popen(
        [sys.executable, str(PIPE_WRITER), str(path), "4096", str(stall_after), str(stall_s)],
        stdout=subprocess.PIPE,
    )


def run_from(
    writer: subprocess.Popen[bytes], url: str, *args: str
) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            [*FLUX, "transcribe", "-", "--url", url, "--output", "text", *args],
            stdin=writer.stdout,
            capture_output=True,
            text=True,
            env=env(),
            timeout=timeout(30),  # far less than the writer's stall: the reader was abandoned
        )
    finally:
        writer.kill()
        writer.wait()
        assert writer.stdout is not None
        writer.stdout.close()


# 44 header bytes + 12 frames of 80 ms: the script's messages all come before the stall.
STALL_AFTER = 44 + 12 * 2560
MID_TURN = [
    Step(3, turn("StartOfTurn", 0, 0.0, 0.24, "Still")),
    Step(6, turn("Update", 0, 0.0, 0.48, "Still talking")),
    Step(9, turn("Update", 0, 0.0, 0.72, "Still talking here")),
]


def test_server_error_while_the_pipe_is_quiet_is_exit_5(tmp_path: Path) -> None:
    tone_wav(tmp_path / "a.wav", 3.0)
    error = {"type": "Error", "code": "NO_AUDIO_TIMEOUT", "description": "no audio for 10 s"}
    script = Script(steps=[*MID_TURN, Step(12, error, close_after=True)], close_code=1011)
    with ScriptedServer(script) as srv:
        result = run_from(stalling_pipe(tmp_path / "a.wav", STALL_AFTER), srv.url)
    assert result.returncode == 5, result.stderr
    assert result.stderr.splitlines()[-1] == (
        "flux: error: server error NO_AUDIO_TIMEOUT: no audio for 10 s"
    )
    assert result.stdout == "[00:00.00-00:00.72] Still talking here (unfinished)\n"
    assert "Fatal Python error" not in result.stderr


def test_server_dropped_while_the_pipe_is_quiet_is_exit_4(tmp_path: Path) -> None:
    tone_wav(tmp_path / "a.wav", 3.0)
    script = Script(steps=MID_TURN, drop_after_frames=12)
    with ScriptedServer(script) as srv:
        result = run_from(
            stalling_pipe(tmp_path / "a.wav", STALL_AFTER), srv.url, "--reconnect", "0"
        )
    assert result.returncode == 4, result.stderr
    assert "connection dropped" in result.stderr.splitlines()[-1]
    assert result.stdout == "[00:00.00-00:00.72] Still talking here (unfinished)\n"
    assert "Fatal Python error" not in result.stderr


def test_a_fifo_given_by_path_streams_like_stdin(tmp_path: Path) -> None:
    tone_wav(tmp_path / "a.wav", 1.0)
    fifo = tmp_path / "audio.fifo"
    os.mkfifo(fifo)
    data = (tmp_path / "a.wav").read_bytes()

    def write() -> None:
        with open(fifo, "wb") as f:
            f.write(data)

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    with ScriptedServer() as srv:
        result = subprocess.run(
            [*FLUX, "transcribe", str(fifo), "--url", srv.url, "--output", "text"],
            capture_output=True,
            text=True,
            env=env(),
            timeout=timeout(30),
        )
    writer.join(timeout(5))
    assert result.returncode == 0, result.stderr
    assert len(srv.last.audio) == 16000 * 2


def test_jsonl_on_a_full_disk_is_exit_7_with_the_turns_shown(tmp_path: Path) -> None:
    tone_wav(tmp_path / "a.wav", 1.0)
    script = Script(steps=[Step(2, turn("EndOfTurn", 0, 0.0, 0.16, "Full.", trigger="model"))])
    args = ["--fast", "--output", "text", "--jsonl", "/dev/full"]
    with ScriptedServer(script) as srv:
        result = subprocess.run(
            [*FLUX, "transcribe", str(tmp_path / "a.wav"), "--url", srv.url, *args],
            capture_output=True,
            text=True,
            env=env(),
            timeout=timeout(30),
        )
    assert result.returncode == 7, result.stderr
    assert result.stderr.splitlines()[-1].startswith("flux: error: cannot write --jsonl /dev/full")
    assert "Traceback" not in result.stderr


def test_small_flag_mistakes_are_exit_2_before_connecting(tmp_path: Path) -> None:
    tone_wav(tmp_path / "a.wav", 0.5)
    for args, says in [
        (["--encoding", "opus"], "--encoding ogg-opus"),
        (["--local"], "--local and --url"),
    ]:
        result = subprocess.run(
            [*FLUX, "transcribe", str(tmp_path / "a.wav"), "--url", "ws://127.0.0.1:9", *args],
            capture_output=True,
            text=True,
            env=env(),
            timeout=timeout(30),
        )
        assert result.returncode == 2, result.stderr
        assert says in result.stderr and len(result.stderr.splitlines()) == 1


def test_silence_ends_with_a_hint(tmp_path: Path) -> None:
    sf.write(tmp_path / "quiet.wav", np.zeros(8000, dtype=np.float32), 16000)
    with ScriptedServer() as srv:
        result = subprocess.run(
            [*FLUX, "transcribe", str(tmp_path / "quiet.wav"), "--url", srv.url, "--fast"],
            capture_output=True,
            text=True,
            env=env(),
            timeout=timeout(30),
        )
    assert result.returncode == 0, result.stderr
    assert "no speech recognised in 0.5 s of audio" in result.stderr


def test_a_live_pipe_resumes_after_a_drop_with_every_byte_sent(tmp_path: Path) -> None:
    from helpers.reconnect import FIRST, SECOND

    tone_wav(tmp_path / "a.wav", 3.0)
    pcm = (tmp_path / "a.wav").read_bytes()[44:]
    # quiet for 1.5 s after frame 20, while the server drops and the client reconnects
    writer = stalling_pipe(tmp_path / "a.wav", 44 + 20 * 2560, 1.5)
    with ScriptedServer(FIRST, then=[SECOND]) as srv:
        result = run_from(writer, srv.url)
        first, second = srv.sessions
    assert result.returncode == 0, result.stderr
    assert pcm.startswith(first.audio)
    assert second.audio == pcm[int(0.8 * 32000) :]
    assert result.stdout.splitlines() == [
        "[00:00.00-00:00.80] Hello there.",
        "[00:01.00-00:01.76] Second turn, again.",
    ]
    assert "reconnected; re-sending" in result.stderr


def test_ctrl_c_while_reconnecting_is_exit_130_with_the_turns_shown(tmp_path: Path) -> None:
    import signal
    import time

    from helpers.reconnect import FIRST

    tone_wav(tmp_path / "a.wav", 3.0)
    args = ["--output", "text", "--speed", "4", "--reconnect", "6"]
    with ScriptedServer(FIRST) as srv:
        proc = subprocess.Popen(
            [*FLUX, "transcribe", str(tmp_path / "a.wav"), "--url", srv.url, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env(),
        )
        deadline = time.monotonic() + timeout(20)
        while not (srv.sessions and srv.sessions[0].done.is_set()):
            assert time.monotonic() < deadline
            time.sleep(0.05)
    time.sleep(timeout(1.0))  # the server is gone: the client is between reconnect attempts
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=timeout(20))
    assert proc.returncode == 130, err
    assert out.splitlines() == [
        "[00:00.00-00:00.80] Hello there.",
        "[00:01.00-00:01.44] Second turn (unfinished)",
    ]
    assert "reconnecting in" in err and "Traceback" not in err
