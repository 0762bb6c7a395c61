"""The local engine ends a turn where another voice starts (mono calls): by default once the
call's two voices are known, with ``--voice-change`` after any pause too, never with
``--no-voice-change``.

The end-to-end tests run the whole command in-process on the real engine: voices of the
bundled dialogue joined by 150 ms gaps (too short for the end-of-turn model), and a natural
voice pausing 0.9 s inside one sentence (committed clip).
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from helpers.client_runs import TURNS, tone
from helpers.scripted_server import Script, ScriptedServer

from flux_cli.cli import run
from flux_cli.env import Env

ROOT = Path(__file__).resolve().parent.parent
LINE = re.compile(r"^\[(\d+):(\d+\.\d+)-(\d+):(\d+\.\d+)\] (.*)$")
GAP_S = 0.15
LEAD_S = 0.3


def transcribe(argv: list[str]) -> tuple[int, list[tuple[float, float, str]], str]:
    """Exit code, the (start, end, text) turn lines, and stderr."""
    out, err = io.StringIO(), io.StringIO()
    code = run(["transcribe", *argv, "--output", "text"],
               Env(stdin=io.BytesIO(), stdout=out, stderr=err, stdout_isatty=False))
    lines = []
    for line in out.getvalue().splitlines():
        m = LINE.match(line)
        assert m, line
        lines.append((int(m[1]) * 60 + float(m[2]), int(m[3]) * 60 + float(m[4]), m[5]))
    return code, lines, err.getvalue()


def words(text: str) -> list[str]:
    """A transcript's words, lower case, without punctuation."""
    return re.findall(r"[a-z0-9']+", text.lower())


def two_voices(path: Path) -> float:
    """The dialogue's agent (flite slt) then its caller (flite rms), 150 ms apart, written to
    ``path``; returns where the caller starts (seconds)."""
    audio, rate = sf.read(ROOT / "samples" / "dialogue.wav", dtype="float32")
    turns = json.loads((ROOT / "samples" / "labels.json").read_text())["dialogue.wav"]["turns"]
    agent, caller = turns[0], turns[1]

    def cut(start: float, end: float) -> np.ndarray:
        return np.asarray(audio[round(start * rate): round(end * rate)])

    first = cut(agent["start"] - 0.05, agent["end"] + 0.03)
    second = cut(caller["start"] - 0.02, caller["pauses"][0][0])  # up to its first pause
    quiet = np.zeros(round(LEAD_S * rate), np.float32)
    joined = np.concatenate([quiet, first, np.zeros(round(GAP_S * rate), np.float32), second,
                             np.zeros(rate, np.float32)])
    sf.write(path, joined, rate, subtype="PCM_16")
    return LEAD_S + len(first) / rate + GAP_S


def whole_dialogue(path: Path) -> list[float]:
    """All five turns of the dialogue (agent, caller, agent, ...) 150 ms apart, written to
    ``path``; returns where each voice after the first starts (seconds)."""
    audio, rate = sf.read(ROOT / "samples" / "dialogue.wav", dtype="float32")
    turns = json.loads((ROOT / "samples" / "labels.json").read_text())["dialogue.wav"]["turns"]
    parts, onsets, t = [np.zeros(round(LEAD_S * rate), np.float32)], [], LEAD_S
    for i, turn in enumerate(turns):
        if i:
            parts.append(np.zeros(round(GAP_S * rate), np.float32))
            t += GAP_S
            onsets.append(t + 0.03)
        piece = np.asarray(audio[round((turn["start"] - 0.03) * rate):
                                 round((turn["end"] + 0.03) * rate)])
        parts.append(piece)
        t += len(piece) / rate
    parts.append(np.zeros(rate, np.float32))
    sf.write(path, np.concatenate(parts), rate, subtype="PCM_16")
    return onsets


@pytest.mark.slow
def test_by_default_changes_end_turns_once_the_calls_two_voices_are_known(
        tmp_path: Path) -> None:
    onsets = whole_dialogue(tmp_path / "call.wav")
    code, turns, err = transcribe([str(tmp_path / "call.wav"), "--fast"])
    assert code == 0, err
    assert "a new voice" not in err  # nothing to say about the default
    # The first change comes before the caller has spoken 2.4 s: one voice so far. The other
    # three end a turn 0.6-0.95 s into the new voice (the last one's first half second is
    # "Great." and a pause), and each turn starts where its voice does (at the VAD's dip
    # between the two), with its own words only.
    assert len(turns) == 4
    for (_, end, _), (start, _, _), onset in zip(turns[:-1], turns[1:], onsets[1:], strict=True):
        assert onset < end <= onset + 1.0
        assert abs(start - onset) < 0.1
    # Words, not punctuation: Whisper's int8 kernels differ between CPUs (AVX2 wrote "work
    # for you." where an AVX-512 VNNI machine wrote "work for you?").
    assert words(turns[0][2])[-2:] == ["tuesday", "morning"]
    assert words(turns[1][2])[0] == "sure" and words(turns[1][2])[-3:] == ["work", "for", "you"]
    assert words(turns[2][2])[0] == "yes" and words(turns[2][2])[-2:] == ["sarah", "miller"]
    assert words(turns[3][2])[0] == "great"
    code, turns, err = transcribe([str(tmp_path / "call.wav"), "--fast", "--no-voice-change"])
    assert code == 0, err
    assert "one voice: a new voice does not end a turn" in err
    assert len(turns) == 1


@pytest.mark.slow
def test_another_voice_after_150_ms_ends_the_turn_within_600_ms(tmp_path: Path) -> None:
    change = two_voices(tmp_path / "call.wav")
    code, turns, err = transcribe([str(tmp_path / "call.wav"), "--fast", "--voice-change"])
    assert code == 0, err
    assert "a new voice ends a turn" in err
    (_, e0, first), (s1, _, second) = turns[0], turns[1]
    assert first.endswith("How can I help you today?")
    assert change < e0 <= change + 0.6  # ended once 0.48 s of the new voice was heard
    assert second.startswith("Good morning")
    assert abs(s1 - change) < 0.1  # the next turn starts where the new voice does


@pytest.mark.slow
def test_without_the_flag_a_calls_first_change_is_not_heard(tmp_path: Path) -> None:
    # 3.5 s of the agent and 4.9 s of the caller: the call's two voices are not known yet.
    two_voices(tmp_path / "call.wav")
    code, turns, err = transcribe([str(tmp_path / "call.wav"), "--fast"])
    assert code == 0, err
    assert len(turns) == 1
    assert "help you today" in turns[0][2] and "Good morning" in turns[0][2]


@pytest.mark.slow
def test_one_voice_pausing_inside_a_sentence_is_one_turn_either_way() -> None:
    clip = str(ROOT / "tests" / "data" / "natural" / "table_pause.wav")
    with_check = transcribe([clip, "--fast", "--voice-change"])
    default = transcribe([clip, "--fast"])
    without = transcribe([clip, "--fast", "--no-voice-change"])
    assert with_check[0] == default[0] == without[0] == 0
    assert with_check[1] == default[1] == without[1]
    assert [text for _, _, text in with_check[1]] == [
        "I would like to book a table for two people on Friday evening."]


def test_with_a_url_the_flag_says_the_server_decides(tmp_path: Path) -> None:
    tone(tmp_path / "a.wav", 2.0)
    with ScriptedServer(Script(TURNS)) as server:
        code, turns, err = transcribe([str(tmp_path / "a.wav"), "--url", server.url, "--fast",
                                       "--voice-change"])
    assert code == 0
    assert "--voice-change and --no-voice-change are the local engine's" in err
    assert turns[0][2] == "Hello, how are you?"


@pytest.mark.parametrize("value", ["1", "0"])
def test_the_environment_variable_sets_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          value: str) -> None:
    monkeypatch.setenv("FLUX_VOICE_CHANGE", value)
    tone(tmp_path / "a.wav", 2.0)
    with ScriptedServer(Script(TURNS)) as server:
        code, _, err = transcribe([str(tmp_path / "a.wav"), "--url", server.url, "--fast"])
    assert code == 0
    assert "--voice-change and --no-voice-change are the local engine's" in err


def test_without_a_flag_or_the_variable_nothing_is_said(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FLUX_VOICE_CHANGE", raising=False)
    tone(tmp_path / "a.wav", 2.0)
    with ScriptedServer(Script(TURNS)) as server:
        code, _, err = transcribe([str(tmp_path / "a.wav"), "--url", server.url, "--fast"])
    assert code == 0
    assert "voice-change" not in err


@pytest.mark.slow
def test_flux_serve_with_the_flag_ends_the_turn_at_the_new_voice(tmp_path: Path) -> None:
    from helpers.serve_process import http_get, start

    change = two_voices(tmp_path / "call.wav")
    server = start("--workers", "1", "--voice-change")
    try:
        assert "a new voice ends a turn, after a pause too" in server.stderr_text()
        models = json.loads(http_get(server.port, "/v1/status")[1])["models"]
        assert models["voice_change"] == "call_and_pauses"
        code, turns, err = transcribe([str(tmp_path / "call.wav"), "--url", server.url,
                                       "--fast"])
    finally:
        server.stop()
    assert code == 0, err
    assert turns[0][2].endswith("How can I help you today?")
    assert change < turns[0][1] <= change + 0.6
    assert turns[1][2].startswith("Good morning")


def test_the_variable_and_the_start_up_line_name_the_three_settings() -> None:
    from flux_cli.engine.voice_change import env_choice, startup_note

    assert [env_choice(v) for v in ("1", "true", " ON ", "0", "no", "off", "", None, "2")] == [
        True, True, True, False, False, False, None, None, None]
    assert startup_note(None) == ""  # the default: the call's voices
    assert startup_note(True) == "; a new voice ends a turn, after a pause too"
    assert startup_note(False) == "; one voice: a new voice does not end a turn"
