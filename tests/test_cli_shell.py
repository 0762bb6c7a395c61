"""The shell around the command: placeholders that name things, examples, completion."""

from __future__ import annotations

import pytest

from flux_cli.cli import run


@pytest.mark.parametrize("command", ["transcribe", "report", "eval", "serve"])
def test_each_commands_help_ends_with_two_examples(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run([command, "--help"]) == 0
    out = capsys.readouterr().out
    examples = out.split("Examples:")[1]
    assert examples.count(f"flux {command} ") == 2


def test_options_name_what_they_take(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["transcribe", "--help"]) == 0
    out = capsys.readouterr().out
    for shown in ("--url URL", "--jsonl FILE", "--eot-threshold T", "--jobs N", "--asr MODEL"):
        assert shown in out
    assert "<str>" not in out.split("Options:")[1]


def test_show_completion_prints_a_bash_script(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # the shell named, not detected: detection reads the process tree, and a test run with no
    # shell among its parents (a CI runner, a detached job) found none ("Shell  not supported.")
    monkeypatch.setenv("_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION", "1")
    assert run(["--show-completion", "bash"]) == 0
    assert "_flux_completion" in capsys.readouterr().out


def test_completion_answers_the_shell(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("_FLUX_COMPLETE", "complete_bash")
    monkeypatch.setenv("COMP_WORDS", "flux transcribe --fa")
    monkeypatch.setenv("COMP_CWORD", "2")
    assert run([]) == 0
    assert capsys.readouterr().out.split() == ["--fast"]
