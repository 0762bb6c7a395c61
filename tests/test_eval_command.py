"""``flux eval`` end to end against a scripted server on 127.0.0.1: a stereo call built from
committed clips, EndOfTurn times we choose, and exactly the cut-offs, misses and latencies
they must give. Also: only the speaker's channel is sent, a bad file costs that file, the
JSON and the PNG read back, ``--compare`` with an earlier result, Ctrl-C."""

from __future__ import annotations

import io
import json
import math
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import timeout
from helpers.scripted_server import Script, ScriptedServer, Step, turn
from helpers.stereo_calls import Part, build_call, write_call

from flux_cli import cli
from flux_cli.env import Env
from flux_cli.evaluate.calls import TruthSource, call_truth
from flux_cli.evaluate.command import run
from flux_cli.evaluate.settings import EvalSettings
from flux_cli.evaluate.truth import CallTruth

CALLER, AGENT = 0, 1
FRAME_S = 0.08
PARTS = [
    Part(CALLER, "order_calling", 0.0),
    Part(CALLER, "order_not_arrived", 0.8),  # hold 1
    Part(AGENT, "sure", 0.7),  # shift 1
    Part(CALLER, "order_paid", 1.2),
    Part(CALLER, "address", 0.6),  # hold 2
    Part(AGENT, "okay", 0.9),  # shift 2 (the caller waits 1.2 s: not a backchannel)
    Part(CALLER, "order_check", 1.2),  # the last turn, then 2.5 s of silence: shift 3
]


def _env(stdin: bytes = b"") -> Env:
    return Env(io.BytesIO(stdin), io.StringIO(), io.StringIO(), stdout_isatty=False)


def _out(env: Env) -> str:
    assert isinstance(env.stdout, io.StringIO)
    return env.stdout.getvalue()


def _err(env: Env) -> str:
    assert isinstance(env.stderr, io.StringIO)
    return env.stderr.getvalue()


def _call(tmp_path: Path, name: str = "call.wav") -> tuple[Path, CallTruth, np.ndarray]:
    audio, _ = build_call(PARTS)
    path = write_call(tmp_path / name, audio)
    truth = call_truth(str(path), TruthSource())
    assert (len(truth.holds), len(truth.shifts)) == (2, 3)
    return path, truth, audio


def _at(t: float) -> int:
    """The audio frame after which a server deciding at ``t`` s would answer."""
    return math.ceil(t / FRAME_S) + 1


def _script(truth: CallTruth) -> Script:
    h1 = truth.holds[0]
    s1, s2, s3 = truth.shifts
    plan = [
        (h1.start + 0.3, turn("EndOfTurn", 0, 0.5, h1.start + 0.3, "Hello I am calling",
                              trigger="model", confidence=0.8)),
        (s1.end + 0.45, turn("EndOfTurn", 1, h1.end, s1.end + 0.45, "It has not arrived",
                             trigger="model", confidence=0.8)),
        (s2.end + 0.5, turn("Update", 2, s1.next_start, s2.end + 0.5, "My address is twelve")),
        (s3.end - 0.2, turn("Update", 2, s1.next_start, s3.end - 0.2, "Could you check")),
        (s3.end + 0.2, turn("EagerEndOfTurn", 2, s1.next_start, s3.end + 0.2,
                            "Could you check what happened", confidence=0.5)),
        (s3.end + 0.6, turn("EndOfTurn", 2, s1.next_start, s3.end + 0.6,
                            "Could you check what happened", trigger="model", confidence=0.8)),
    ]
    return Script(steps=[Step(_at(t), message) for t, message in plan])


def _settings(calls: list[Path], url: str, **kw: Any) -> EvalSettings:
    kw.setdefault("format", "json")
    return EvalSettings(calls=[str(c) for c in calls], url=url, speed=0.0, **kw)


def test_scripted_server_gives_exactly_the_expected_scores(tmp_path: Path) -> None:
    path, truth, audio = _call(tmp_path)
    h1, s1, s3 = truth.holds[0], truth.shifts[0], truth.shifts[2]
    env = _env()
    with ScriptedServer(_script(truth)) as srv:
        code = run(_settings([path], srv.url), env)
        sent = srv.last.audio
        query = dict(srv.last.query)
    assert code == 0, _err(env)
    report = json.loads(_out(env))
    point = report["runs"][0]["thresholds"][0]
    assert point["run"] == "127.0.0.1:" + srv.url.split(":")[2].split("/")[0]
    assert (point["holds"], point["false_cutoffs"]) == (2, 1)
    assert (point["shifts"], point["missed_ends"]) == (3, 1)
    assert point["score"]["latencies"] == pytest.approx([0.45, 0.6], abs=1e-3)
    assert point["score"]["eager_latencies"] == pytest.approx([0.2], abs=1e-3)
    agent = s1.response
    assert agent is not None
    assert point["score"]["versus_agent"] == pytest.approx([s1.end + 0.45 - agent], abs=1e-3)
    assert "eot_threshold" not in query  # none asked: the server's default
    # the worst cases, with the call, the time and what the server had heard
    worst = {(c["kind"], round(c["at"], 2)): c for c in report["worst"]}
    cut = worst[("cut-off", round(h1.start, 2))]
    assert cut["transcript"] == "Hello I am calling" and cut["seconds"] == pytest.approx(0.3)
    missed = worst[("missed", round(truth.shifts[1].end, 2))]
    assert missed["transcript"] == "My address is twelve"
    assert ("slow", round(s3.end, 2)) in worst
    # only the speaker's channel went out, as 16-bit PCM at 16 kHz
    pcm = np.frombuffer(sent, dtype="<i2").astype(np.float32) / 32768
    want = np.round(np.clip(audio[:, CALLER], -1, 1) * 32767) / 32768
    assert len(pcm) >= len(want) and np.abs(pcm[: len(want)] - want).max() < 2e-4
    assert report["truth"][0]["method"].startswith("channels: speaker on channel 0")


def test_thresholds_without_replay_run_once_each(tmp_path: Path) -> None:
    path, truth, _ = _call(tmp_path)
    env = _env()
    plot = tmp_path / "tradeoff.png"
    with ScriptedServer(_script(truth)) as srv:
        code = run(_settings([path], srv.url, thresholds=[0.6, 0.8], replay=True,
                             plot=str(plot)), env)
        asked = sorted(dict(s.query).get("eot_threshold", "") for s in srv.sessions)
    assert code == 0, _err(env)
    # the scripted Updates carry one confidence: no replay; one run per threshold
    assert "do not move" in _err(env)
    assert asked == ["0.6", "0.8"]
    report = json.loads(_out(env))
    assert report["runs"][0]["how"] == "one run per threshold"
    points = report["runs"][0]["thresholds"]
    assert [p["eot_threshold"] for p in points] == [0.6, 0.8]
    assert all(p["false_cutoffs"] == 1 and p["missed_ends"] == 1 for p in points)
    assert report["recommendation"]["eot_threshold"] is None  # 50% cut-offs: nothing fits 5%
    import matplotlib.image

    image = matplotlib.image.imread(plot)
    assert image.shape[0] > 400 and image.shape[1] > 600
    assert (image[..., :3] < 0.9).any(axis=2).mean() > 0.01  # something is drawn


def test_a_bad_file_costs_that_file(tmp_path: Path) -> None:
    path, truth, _ = _call(tmp_path)
    mono = tmp_path / "mono.wav"
    write_call(mono, build_call(PARTS[:2])[0][:, :1])
    missing = tmp_path / "missing.wav"
    env = _env()
    with ScriptedServer(_script(truth)) as srv:
        code = run(_settings([missing, mono, path], srv.url), env)
        sessions = len(srv.sessions)
    assert code == 3  # the input error's exit code; the good call was still scored
    assert sessions == 1
    err = _err(env).splitlines()
    assert any(line.startswith(f"flux: error: {missing}:") for line in err)
    assert any("one channel" in line and str(mono) in line for line in err)
    report = json.loads(_out(env))
    assert [c["call"] for c in report["runs"][0]["thresholds"][0]["calls"]] == [str(path)]
    assert len(report["failed"]) == 2


def test_compare_with_an_earlier_result(tmp_path: Path) -> None:
    path, truth, _ = _call(tmp_path)
    earlier = tmp_path / "earlier.json"
    with ScriptedServer(_script(truth)) as srv:
        env = _env()
        assert run(_settings([path], srv.url), env) == 0
        earlier.write_text(_out(env))
        env = _env()
        assert run(_settings([path], srv.url, compare=str(earlier), format="text"), env) == 0
    text = _out(env)
    rows = [line for line in text.splitlines() if " default " in line]
    # the same figures (p90 may differ in its last digit: the JSON keeps latencies to 1 ms)
    assert len(rows) == 2 and rows[0].split()[1:8] == rows[1].split()[2:9]
    assert rows[1].split()[1] == "(earlier.json)"
    assert "1/2 (50%)" in rows[0] and "1/3 (33%)" in rows[0]
    assert "worst cases" in text and "recommended: no threshold tried" in text


@pytest.mark.slow  # a process of its own, to take a real SIGINT
def test_ctrl_c_reports_what_was_scored(tmp_path: Path) -> None:
    first, truth, _ = _call(tmp_path, "first.wav")
    second = write_call(tmp_path / "second.wav", np.tile(build_call(PARTS)[0], (2, 1)))
    with ScriptedServer(_script(truth)) as srv:
        proc = subprocess.Popen(
            [sys.executable, "-m", "flux_cli", "eval", str(first), str(second), "--url", srv.url,
             "--speed", "8", "--format", "json"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        deadline = time.monotonic() + timeout(30)
        while (len(srv.sessions) < 2 or len(srv.last.frames) < 20) \
                and time.monotonic() < deadline:
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=timeout(30))
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    report = json.loads(out)
    assert report["interrupted"] is True
    calls = report["runs"][0]["thresholds"][0]["calls"]
    assert [c["call"] for c in calls] == [str(first)]  # the unfinished call is not scored
    assert calls[0]["cutoffs"] == 1


def test_the_command_line_in_process(tmp_path: Path) -> None:
    path, truth, _ = _call(tmp_path)
    env = _env()
    with ScriptedServer(_script(truth)) as srv:
        code = cli.run(["eval", str(path), "--url", srv.url, "--fast", "--speaker-channel", "0",
                        "--target-cutoffs", "50%", "--worst", "2"], env)
    assert code == 0, _err(env)
    text = _out(env)
    assert "recommended: eot_threshold default: 50.0% false cut-offs (target 50%)" in text
    kinds = ("cut-off ", "missed ", "slow ")
    cases = [line for line in text.splitlines() if line.startswith(kinds)]
    assert [line.split()[0] for line in cases] == ["cut-off", "missed"]  # --worst 2


def test_mono_with_labels_streams_the_whole_recording() -> None:
    samples = Path(__file__).resolve().parent.parent / "samples"
    call = samples / "dialogue.wav"
    env = _env()
    end = turn("EndOfTurn", 0, 5.8, 12.6, "Good morning", trigger="model", confidence=0.9)
    with ScriptedServer(Script(steps=[Step(_at(12.6), end)])) as srv:
        code = run(_settings([call], srv.url, labels=str(samples / "labels.json"),
                             speaker="caller"), env)
        sent = len(srv.last.audio)
    assert code == 0, _err(env)
    assert sent == 2 * 486720  # every sample of the mono file, as 16-bit PCM
    point = json.loads(_out(env))["runs"][0]["thresholds"][0]
    assert (point["holds"], point["false_cutoffs"]) == (2, 0)
    assert (point["shifts"], point["missed_ends"]) == (2, 1)
    assert point["score"]["latencies"] == pytest.approx([12.6 - 12.25], abs=1e-3)


def test_a_key_never_shows(tmp_path: Path) -> None:
    path, truth, _ = _call(tmp_path)
    key = "sekrit-key-123456"
    named = path.rename(tmp_path / f"call-{key}.wav")
    env = _env()
    with ScriptedServer(_script(truth)) as srv:
        code = cli.run(["eval", str(tmp_path / f"{key}.wav"), str(named), "--url", srv.url,
                        "--api-key", key, "--fast", "--format", "json"], env)
        sent = srv.last.headers.get("authorization")
    assert code == 3
    assert sent == f"Token {key}"  # it went where it belongs, and nowhere else
    assert key not in _out(env) and key not in _err(env)
    assert "***" in _err(env) and "***" in _out(env)  # the failed file, in both


def test_compare_two_servers_on_the_same_calls(tmp_path: Path) -> None:
    path, truth, _ = _call(tmp_path)
    quiet = Script()  # a server that never ends a turn
    env = _env()
    with ScriptedServer(_script(truth)) as first, ScriptedServer(quiet) as second:
        code = run(_settings([path], first.url, compare=second.url), env)
        streams = (len(first.sessions), len(second.sessions))
    assert code == 0, _err(env)
    assert streams == (1, 1)
    runs = json.loads(_out(env))["runs"]
    assert [r["run"].split(":")[0] for r in runs] == ["127.0.0.1", "127.0.0.1"]
    a, b = (r["thresholds"][0] for r in runs)
    assert (a["false_cutoffs"], a["missed_ends"]) == (1, 1)
    assert (b["false_cutoffs"], b["missed_ends"]) == (0, 3)
