"""Paths a new user walks that must end right: odd inputs, a full disk, conflicting flags.

Each runs ``python -m flux_cli`` in a subprocess against a scripted server on 127.0.0.1 (or no
server at all when the run must be refused first), with real files, pipes and ``/dev/full``.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from conftest import timeout
from helpers.audio_testutil import pipe_from_process
from helpers.cli import FLUX, env, flux, speechless
from helpers.scripted_server import Script, ScriptedServer, Step, turn

pytestmark = pytest.mark.slow  # subprocesses: the full tier

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
NOWHERE = "ws://127.0.0.1:9/v2/listen"  # nothing listens: a refusal must come first
TURNS = [
    Step(4, turn("StartOfTurn", 0, 0.0, 0.32, "Hello")),
    Step(10, turn("EndOfTurn", 0, 0.0, 0.8, "Hello, how are you?", trigger="model")),
]


def error_line(result: subprocess.CompletedProcess[str]) -> str:
    line = result.stderr.splitlines()[-1]
    assert line.startswith("flux: error: "), result.stderr
    assert "Traceback" not in result.stderr
    return line


def test_a_raw_file_asks_for_its_format(tmp_path: Path) -> None:
    (tmp_path / "take.raw").write_bytes(os.urandom(32000))
    result = flux("transcribe", str(tmp_path / "take.raw"), "--url", NOWHERE)
    assert result.returncode == 3, result.stderr
    line = error_line(result)
    assert "take.raw" in line and "--input-format s16le --input-rate 16000" in line


def test_fast_and_speed_together_are_refused(tmp_path: Path) -> None:
    speechless(tmp_path / "a.wav", 1.0)
    result = flux("transcribe", str(tmp_path / "a.wav"), "--fast", "--speed", "2", "--url", NOWHERE)
    assert result.returncode == 2, result.stderr
    assert "--fast" in error_line(result) and "--speed 2" in error_line(result)


def test_multilingual_model_on_the_english_local_engine_is_refused_before_it_starts(
    tmp_path: Path,
) -> None:
    speechless(tmp_path / "a.wav", 1.0)
    result = flux("transcribe", str(tmp_path / "a.wav"), "--model", "flux-general-multi",
                  "--asr", "tiny.en")
    assert result.returncode == 2, result.stderr
    assert "English-only" in error_line(result)
    assert "using the local engine" not in result.stderr  # refused before it starts


def test_a_cut_wav_on_stdin_exits_3_like_the_same_file_by_path(tmp_path: Path) -> None:
    speechless(tmp_path / "whole.wav", 3.0)
    data = (tmp_path / "whole.wav").read_bytes()
    (tmp_path / "cut.wav").write_bytes(data[: len(data) * 2 // 3])
    codes = {}
    for how in ("path", "stdin"):
        with ScriptedServer(Script(steps=TURNS)) as srv:
            if how == "path":
                result = flux("transcribe", str(tmp_path / "cut.wav"), "--url", srv.url,
                              "--fast", "--output", "text")
            else:
                cat = pipe_from_process(tmp_path / "cut.wav")
                try:
                    result = subprocess.run(
                        [*FLUX, "transcribe", "-", "--url", srv.url, "--fast", "--output", "text"],
                        stdin=cat.stdout, capture_output=True, text=True, env=env(),
                        timeout=timeout(60),
                    )
                finally:
                    assert cat.stdout is not None
                    cat.stdout.close()
                    cat.wait()
            sent = len(srv.last.audio)
        codes[how] = result.returncode
        assert "truncated" in error_line(result) and "2.0 s it holds" in error_line(result)
        assert sent >= 2 * 16000 * 2 - 2560  # what the file holds was still sent
    assert codes == {"path": 3, "stdin": 3}


def test_one_input_with_a_log_directory_writes_its_file_there(tmp_path: Path) -> None:
    speechless(tmp_path / "call.wav", 2.0)
    for target in (tmp_path / "new-logs", tmp_path / "existing"):
        if target.name == "existing":
            target.mkdir()
        with ScriptedServer(Script(steps=TURNS)) as srv:
            result = flux("transcribe", str(tmp_path / "call.wav"), "--url", srv.url, "--fast",
                          "--output", "text", "--jsonl", f"{target}{os.sep}")
        assert result.returncode == 0, result.stderr
        lines = (target / "call.jsonl").read_text().splitlines()
        assert json.loads(lines[-1])["type"] == "flux.end"


def test_ogg_opus_passed_through_counts_its_audio_seconds(tmp_path: Path) -> None:
    log = tmp_path / "opus.jsonl"
    with ScriptedServer(Script(steps=TURNS)) as srv:
        result = flux("transcribe", str(SAMPLES / "dialogue.opus"), "--encoding", "ogg-opus",
                      "--url", srv.url, "--fast", "--output", "text", "--jsonl", str(log))
    assert result.returncode == 0, result.stderr
    end = json.loads(log.read_text().splitlines()[-1])
    assert end["type"] == "flux.end" and 30.0 < end["audio_sent_s"] < 31.0
    assert "30.4 s of audio" in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["--output", "text"],
        ["--output", "json"],
        ["--jsonl", "-"],
        ["SECOND", "--output", "text"],
    ],
    ids=["text", "json", "jsonl-stdout", "several-inputs"],
)
def test_stdout_on_a_full_disk_is_exit_7(tmp_path: Path, args: list[str]) -> None:
    speechless(tmp_path / "a.wav", 2.0)
    args = [str(tmp_path / "a.wav") if a == "SECOND" else a for a in args]
    with ScriptedServer(Script(steps=TURNS)) as srv, open("/dev/full", "w") as full:
        result = subprocess.run(
            [*FLUX, "transcribe", str(tmp_path / "a.wav"), *args, "--url", srv.url, "--fast"],
            stdout=full, stderr=subprocess.PIPE, text=True, env=env(), timeout=timeout(60),
        )
    assert result.returncode == 7, result.stderr
    assert "No space left on device" in error_line(result)


def test_report_to_a_full_disk_is_exit_7(tmp_path: Path) -> None:
    speechless(tmp_path / "a.wav", 2.0)
    log = tmp_path / "a.jsonl"
    with ScriptedServer(Script(steps=TURNS)) as srv:
        made = flux("transcribe", str(tmp_path / "a.wav"), "--url", srv.url, "--fast",
                    "--output", "text", "--jsonl", str(log))
    assert made.returncode == 0, made.stderr
    for fmt in ("text", "json"):
        with open("/dev/full", "w") as full:
            result = subprocess.run(
                [*FLUX, "report", str(log), "--format", fmt],
                stdout=full, stderr=subprocess.PIPE, text=True, env=env(), timeout=timeout(60),
            )
        assert result.returncode == 7, result.stderr
        assert "No space left on device" in error_line(result)


def encode_with_av(wav: Path, target: Path, codec: str, rate: int) -> None:
    """``target`` in its container (by extension), made with PyAV from a committed clip."""
    import av
    import numpy as np
    import soundfile as sf

    audio, source_rate = sf.read(wav, dtype="float32")
    with av.open(str(target), "w") as out:
        stream: Any = out.add_stream(codec, rate=rate, layout="mono")
        resampler = av.AudioResampler(format=stream.codec_context.format.name, layout="mono",
                                      rate=rate)
        frame = av.AudioFrame.from_ndarray(np.asarray(audio)[None, :], format="flt",
                                           layout="mono")
        frame.sample_rate = source_rate
        for piece in [*resampler.resample(frame), *resampler.resample(None)]:
            for packet in stream.encode(piece):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)


@pytest.mark.parametrize(("name", "codec", "rate"),
                         [("call.m4a", "aac", 16000), ("call.mp4", "aac", 44100),
                          ("call.webm", "libopus", 48000)])
def test_mp4_m4a_and_webm_are_decoded_with_pyav(
    tmp_path: Path, name: str, codec: str, rate: int
) -> None:
    encode_with_av(SAMPLES / "sentence.wav", tmp_path / name, codec, rate)
    with ScriptedServer(Script(steps=TURNS)) as srv:
        result = flux("transcribe", str(tmp_path / name), "--url", srv.url, "--fast",
                      "--output", "text")
        sent_s = len(srv.last.audio) / 32000
    assert result.returncode == 0, result.stderr
    assert 4.8 < sent_s < 5.3, sent_s  # the clip is 4.9 s
