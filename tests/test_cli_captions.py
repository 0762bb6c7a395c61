"""``--srt`` / ``--vtt`` end to end: a real server socket, a real process, real parsers."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import srt
import webvtt
from conftest import timeout
from helpers.cli import FLUX, env, flux, speechless
from helpers.scripted_server import Script, ScriptedServer, Step, turn

pytestmark = pytest.mark.slow  # real models or processes: the full tier


def timed(text: str, start: float, per_word: float = 0.3) -> list[dict[str, Any]]:
    return [
        {"word": w, "confidence": 0.9, "start": start + i * per_word,
         "end": start + i * per_word + 0.25}
        for i, w in enumerate(text.split())
    ]


LONG = (
    "I would like to book a cleaning for next week. Is there anything on Tuesday "
    "morning or maybe on Wednesday afternoon?"
)
SCRIPT = [
    Step(3, turn("StartOfTurn", 0, 0.1, 0.24, "Hello", words=timed("Hello", 0.1))),
    Step(8, turn("EndOfTurn", 0, 0.1, 0.64, "Hello, how are you?",
                 words=timed("Hello, how are you?", 0.1), trigger="model")),
    Step(12, turn("EndOfTurn", 1, 0.8, 7.0, LONG, words=timed(LONG, 0.8), trigger="model")),
]


def test_srt_and_vtt_are_written_and_parse(tmp_path: Path) -> None:
    speechless(tmp_path / "a.wav", 1.5)
    with ScriptedServer(Script(steps=SCRIPT)) as srv:
        result = flux(
            "transcribe", str(tmp_path / "a.wav"), "--url", srv.url, "--fast", "--output", "text",
            "--srt", str(tmp_path / "a.srt"), "--vtt", str(tmp_path / "a.vtt"),
        )
    assert result.returncode == 0, result.stderr
    subs = list(srt.parse((tmp_path / "a.srt").read_text()))
    cues = webvtt.read(str(tmp_path / "a.vtt")).captions
    assert subs[0].content == "Hello, how are you?"
    assert [c.text for c in cues] == [s.content for s in subs]
    assert " ".join(s.content.replace("\n", " ") for s in subs[1:]) == LONG
    assert len(subs) >= 3  # the long turn is split
    for sub in subs:
        assert all(len(line) <= 42 for line in sub.content.split("\n"))
        assert len(sub.content.split("\n")) <= 2
    starts = [s.start.total_seconds() for s in subs]
    assert starts == sorted(starts) and starts[0] == 0.1
    assert all(s.end > s.start for s in subs)
    assert not any(c.voice for c in cues)  # no channel names: no voice tags


def test_captions_are_valid_after_ctrl_c_and_end_with_the_unfinished_turn(tmp_path: Path) -> None:
    speechless(tmp_path / "a.wav", 10.0)
    script = Script(
        steps=[
            *SCRIPT[:2],
            Step(14, turn("Update", 1, 0.8, 1.5, "Still talking",
                          words=timed("Still talking", 0.8))),
        ]
    )
    with ScriptedServer(script) as srv:
        proc = subprocess.Popen(
            [*FLUX, "transcribe", str(tmp_path / "a.wav"), "--url", srv.url, "--output", "text",
             "--srt", str(tmp_path / "a.srt"), "--vtt", str(tmp_path / "a.vtt")],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env(),
        )
        deadline = time.monotonic() + timeout(20)
        while (not srv.sessions or len(srv.last.frames) < 18) and time.monotonic() < deadline:
            time.sleep(0.05)
        # the finished turn is already on disk, whole, while the stream runs
        first = next(srt.parse((tmp_path / "a.srt").read_text()))
        assert first.content == "Hello, how are you?"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=timeout(20))
    assert proc.returncode == 130, err
    subs = list(srt.parse((tmp_path / "a.srt").read_text()))
    cues = webvtt.read(str(tmp_path / "a.vtt")).captions
    assert [s.content for s in subs] == ["Hello, how are you?", "Still talking"]
    assert [c.text for c in cues] == ["Hello, how are you?", "Still talking"]


def test_unwritable_caption_path_is_a_usage_error_before_connecting(tmp_path: Path) -> None:
    speechless(tmp_path / "a.wav", 0.5)
    result = flux("transcribe", str(tmp_path / "a.wav"), "--url", "ws://127.0.0.1:9",
                  "--srt", str(tmp_path / "no" / "dir.srt"))
    assert result.returncode == 2
    assert result.stderr.startswith("flux: error: cannot write --srt")
