"""``cli.run(argv, env)``: the whole command in-process, with the test's own streams.

Real sockets (a scripted server on 127.0.0.1) and real files; no subprocess, so these run in
the fast tier and show what a user's terminal would: the product on stdout, errors on stderr.
"""

from __future__ import annotations

import io
from pathlib import Path

from helpers.client_runs import TURNS, tone
from helpers.scripted_server import Script, ScriptedServer

from flux_cli.cli import run
from flux_cli.env import Env


class Streams:
    """The test's own stdout and stderr, readable after the run."""

    def __init__(self) -> None:
        self.out, self.err = io.StringIO(), io.StringIO()
        self.env = Env(stdin=io.BytesIO(), stdout=self.out, stderr=self.err, stdout_isatty=False)


def test_transcribe_in_process_prints_turns_on_our_stdout(tmp_path: Path) -> None:
    tone(tmp_path / "a.wav", 2.0)
    std = Streams()
    with ScriptedServer(Script(TURNS)) as server:
        code = run(["transcribe", str(tmp_path / "a.wav"), "--url", server.url, "--fast",
                    "--output", "text"], std.env)
    assert code == 0
    out = std.out.getvalue().splitlines()
    assert out[0] == "[00:00.00-00:00.80] Hello, how are you?"
    assert out[-1].endswith("(unfinished)")


def test_an_error_is_one_line_on_our_stderr_with_its_exit_code(tmp_path: Path) -> None:
    std = Streams()
    code = run(["transcribe", str(tmp_path / "missing.wav"), "--url", "ws://127.0.0.1:9"], std.env)
    assert code == 3
    err = std.err.getvalue()
    assert err.startswith("flux: error: ") and err.count("\n") == 1
    assert std.out.getvalue() == ""


def test_a_key_in_an_error_is_redacted_on_our_stderr(tmp_path: Path) -> None:
    std = Streams()
    key = "sekrit-key-123456"
    code = run(["transcribe", str(tmp_path / f"{key}.wav"), "--api-key", key], std.env)
    assert code == 3
    assert key not in std.err.getvalue()
    assert "***" in std.err.getvalue()
