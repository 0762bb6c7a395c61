"""What ``flux eval`` shows: the plain report, the JSON, the Rich tables (on a recording
console), the question before the paid service, and the CLI's one-line errors."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from flux_cli import cli
from flux_cli.env import Env
from flux_cli.errors import UsageError
from flux_cli.evaluate.events import TurnEvent
from flux_cli.evaluate.formats import Evaluation, json_report, text_report
from flux_cli.evaluate.plan import confirm
from flux_cli.evaluate.results import RunSummary, score_threshold
from flux_cli.evaluate.scoring import worst_cases
from flux_cli.evaluate.settings import EvalSettings, is_paid, parse_thresholds, run_name
from flux_cli.evaluate.tradeoff import recommend
from flux_cli.evaluate.truth import CallTruth, Hold, Shift
from flux_cli.render.eval_table import print_evaluation

TRUTH = CallTruth("call.wav", 12.0, holds=[Hold(2.0, 2.6), Hold(5.0, 6.0)],
                  shifts=[Shift(4.0, 4.8, 7.0), Shift(9.0, None, 12.0)], method="by hand")
EVENTS = {"call.wav": [TurnEvent("EndOfTurn", 2.3, 0.8, "Hello there"),
                       TurnEvent("EndOfTurn", 4.4, 0.8, "my order"),
                       TurnEvent("EndOfTurn", 9.6, 0.8, "thanks")]}


def _evaluation() -> Evaluation:
    summary = RunSummary("local", "one run per threshold")
    summary.results.append(score_threshold("local", 0.7, [TRUTH], EVENTS))
    evaluation = Evaluation([TRUTH], [summary], calls_given=1)
    evaluation.recommendation = recommend(summary.points, 0.5)
    evaluation.worst = worst_cases(summary.results[0].point.score)
    return evaluation


def test_text_report() -> None:
    text = text_report(_evaluation())
    assert "truth: 1 call, 2 holds (0 with a backchannel), 2 shifts" in text
    assert "  how: by hand" in text
    row = next(line for line in text.splitlines() if line.startswith("local  0.7"))
    assert row.split()[2:8] == ["1/2", "(50%)", "0/2", "(0%)", "0.50", "s"]
    assert "cut-off  call.wav  0:02.0  0.30 s   Hello there" in text
    assert "recommended: eot_threshold 0.7: 50.0% false cut-offs (target 50%)" in text
    assert "your agent answered after 0.80 s (median); local at eot_threshold 0.7 would " \
           "have allowed 0.50 s" in text


def test_json_report_round_trips_for_compare() -> None:
    data = json.loads(json_report(_evaluation()))
    assert data["recommendation"]["eot_threshold"] == 0.7
    again = RunSummary.from_dict(data["runs"][0])
    point = again.results[0].point
    assert (point.score.cutoffs, point.score.missed, point.p50) == (1, 0, pytest.approx(0.5))
    assert [c.call for c in again.results[0].calls] == ["call.wav"]


def test_rich_tables() -> None:
    out = io.StringIO()
    print_evaluation(out, _evaluation())
    text = out.getvalue()
    for title in ("per threshold", "per call, eot_threshold 0.7", "worst cases"):
        assert title in text
    assert "1/2 (50%)" in text and "Hello there" in text
    assert "\x1b[" not in text  # not a terminal: no colour codes


def test_confirm_before_the_paid_service() -> None:
    def env(answer: bytes) -> Env:
        return Env(io.BytesIO(answer), io.StringIO(), io.StringIO(), stdout_isatty=False)

    settings = EvalSettings(calls=["a.wav"])
    said = env(b"y\n")
    confirm(settings, said, 90.0, 5, "deepgram")
    assert isinstance(said.stderr, io.StringIO)
    assert "this sends 7.5 minutes of audio to deepgram (1.5 min x 5 runs)" in \
           said.stderr.getvalue()
    with pytest.raises(UsageError, match="nothing was sent"):
        confirm(settings, env(b"n\n"), 90.0, 1, "deepgram")
    with pytest.raises(UsageError):
        confirm(settings, env(b""), 90.0, 1, "deepgram")  # no answer is no
    settings.yes = True
    confirm(settings, env(b""), 90.0, 1, "deepgram")


def test_names_and_thresholds() -> None:
    assert is_paid("wss://api.deepgram.com/v2/listen") and is_paid("wss://api.eu.deepgram.com/x")
    assert not is_paid("ws://127.0.0.1:8765/v2/listen") and not is_paid(None)
    assert run_name(None) == "local" and run_name("ws://h:1/v2/listen") == "h:1"
    assert parse_thresholds("0.8,0.6,0.8", False) == [0.6, 0.8]
    assert parse_thresholds(None, True) == [0.5, 0.6, 0.7, 0.8, 0.9]
    assert parse_thresholds(None, False) == [None]
    with pytest.raises(UsageError):
        parse_thresholds("0.6,x", False)


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (["--target-cutoffs", "lots"], 2, "--target-cutoffs takes a rate"),
        (["--speaker", "bob"], 2, "--speaker names a labelled speaker"),
        (["--format", "xml"], 2, "--format must be text or json"),
        (["--eot-threshold", "0.2"], 2, "eot_threshold"),
        (["--sweep", "--eot-threshold", "0.6"], 2, "--sweep and --eot-threshold"),
        (["--plot", "x.svg"], 2, "--plot writes a PNG"),
        (["--url", "ws://127.0.0.1:9"], 3, "no such file"),  # nothing readable: the file's code
    ],
)
def test_cli_errors(tmp_path: Path, args: list[str], code: int, says: str) -> None:
    env = Env(io.BytesIO(), io.StringIO(), io.StringIO(), stdout_isatty=False)
    got = cli.run(["eval", str(tmp_path / "missing.wav"), *args], env)
    assert got == code
    assert isinstance(env.stderr, io.StringIO) and isinstance(env.stdout, io.StringIO)
    lines = env.stderr.getvalue().splitlines()
    assert len(lines) == 1 and lines[0].startswith("flux: error: ") and says in lines[0]
    assert env.stdout.getvalue() == ""
