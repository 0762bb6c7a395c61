"""Keys in the live panel, pressed through a real pseudo-terminal (pexpect), plus the pure parts."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pexpect
import pytest
from conftest import timeout
from helpers.cli import env, speechless
from helpers.scripted_server import REQUEST_ID, Script, ScriptedServer, Step, turn

from flux_cli.transcribe.keys import Action, Controls, KeyPanel, action_for, next_threshold

pytestmark = pytest.mark.slow  # real models or processes: the full tier


def test_keymap() -> None:
    assert action_for(b"\r") is Action.END_TURN and action_for(b"\n") is Action.END_TURN
    assert action_for(b"+") is Action.RAISE and action_for(b"=") is Action.RAISE
    assert action_for(b"-") is Action.LOWER and action_for(b"q") is Action.FINISH
    assert action_for(b"x") is None


def test_threshold_steps_stay_in_range_and_above_eager() -> None:
    assert next_threshold(0.7, 0.05, None) == 0.75
    assert next_threshold(0.7, -0.05, None) == 0.65
    assert next_threshold(0.98, 0.05, None) == 1.0
    assert next_threshold(1.0, 0.05, None) is None
    assert next_threshold(0.5, -0.05, None) is None
    assert next_threshold(0.62, -0.05, 0.6) == 0.6  # never below the eager threshold


def test_footer_shows_the_new_threshold_once_confirmed() -> None:
    confirmed = {"eot": 0.7}
    sent: list[float] = []

    def configure(value: float) -> bool:
        sent.append(value)
        return True

    controls = Controls(lambda: True, configure, lambda: None, lambda: confirmed["eot"],
                        lambda: None)
    panel = KeyPanel(-1, controls)
    panel.act(Action.RAISE)
    assert sent == [0.75] and panel.footer.endswith("asked for eot 0.75…")
    confirmed["eot"] = 0.75  # the ConfigureSuccess arrived
    assert panel.footer.endswith("eot threshold now 0.75")


SCRIPT = [
    Step(3, turn("StartOfTurn", 0, 0.0, 0.24, "Hello there")),
    Step(6, turn("Update", 0, 0.0, 0.48, "Hello there how")),
    Step("Configure", {"type": "ConfigureSuccess", "request_id": REQUEST_ID,
                       "thresholds": {"eot_threshold": 0.75, "eager_eot_threshold": None,
                                      "eot_timeout_ms": 5000}, "keyterms": []}),
    Step("ForceEndTurn", turn("EndOfTurn", 0, 0.0, 1.2, "Hello there, how are you",
                              trigger="manual", confidence=0.3)),
]


def test_keys_through_a_pty_end_the_turn_change_the_threshold_and_finish(tmp_path: Path) -> None:
    speechless(tmp_path / "a.wav", 30.0)
    with ScriptedServer(Script(steps=SCRIPT)) as srv:
        child = pexpect.spawn(
            sys.executable, ["-m", "flux_cli", "transcribe", str(tmp_path / "a.wav"),
                             "--url", srv.url],
            env=env(TERM="xterm-256color"), dimensions=(30, 120), encoding="utf-8",
            timeout=timeout(20),
        )
        started = time.monotonic()
        try:
            child.expect_exact("keys: Enter end turn")
            child.expect_exact("Hello there")
            child.send("+")
            child.expect_exact("(eot 0.75)")  # shown once ConfigureSuccess arrived
            child.send("\r")
            child.expect_exact("Hello there, how are you")
            child.send("q")
            child.expect(pexpect.EOF)
        finally:
            child.close()
        took = time.monotonic() - started
        rec = srv.last
    assert child.exitstatus == 0, child.before
    sent = [json.loads(t) for t, _ in rec.texts]
    assert {"type": "Configure", "thresholds": {"eot_threshold": 0.75}} in sent
    assert rec.events.index("Configure") < rec.events.index("ForceEndTurn")
    assert rec.events[-1] == "CloseStream"
    assert took < 25  # q ended a 30 s file early
    assert len(rec.frames) < 300


def test_keys_come_from_the_terminal_when_stdin_carries_the_audio(tmp_path: Path) -> None:
    """``producer | flux transcribe -`` in a terminal: keys still work, q ends a quiet pipe."""
    speechless(tmp_path / "a.wav", 4.0)
    writer = Path(__file__).resolve().parent / "helpers" / "pipe_writer.py"
    # one second of audio, then the producer keeps the pipe open and says nothing for 60 s
    producer = f"{sys.executable} {writer} {tmp_path / 'a.wav'} 4096 32044 60"
    with ScriptedServer(Script(steps=SCRIPT)) as srv:
        command = f"{producer} | {sys.executable} -m flux_cli transcribe - --url {srv.url}"
        child = pexpect.spawn("/bin/sh", ["-c", command], env=env(TERM="xterm-256color"),
                              dimensions=(30, 120), encoding="utf-8", timeout=timeout(20))
        try:
            child.expect_exact("keys: Enter end turn")
            child.expect_exact("Hello there")
            child.send("\r")
            child.expect_exact("Hello there, how are you")
            started = time.monotonic()
            child.send("q")
            child.expect_exact("flux: 1 turn")  # the end-of-run summary: the run is over
            took = time.monotonic() - started
        finally:
            child.close(force=True)
        rec = srv.last
    assert rec.events.count("ForceEndTurn") == 1 and rec.events[-1] == "CloseStream"
    assert took < 5  # not the 60 s the quiet producer would have held it
