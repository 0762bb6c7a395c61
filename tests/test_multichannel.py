"""``--multichannel``: a stereo call, different speech per channel, on the real local engine."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import webvtt
from conftest import timeout
from helpers.cli import FLUX, env
from helpers.speech import RATE, load_clip

from flux_cli.errors import UsageError
from flux_cli.render.merge import DONE, TimeOrderMerger
from flux_cli.render.state import Turn
from flux_cli.transcribe.channels import parse_names

pytestmark = pytest.mark.slow  # real models or processes: the full tier


def stereo_call(path: Path) -> tuple[str, str]:
    """Caller speaks first on channel 0; the agent answers on channel 1 after a gap."""
    caller, caller_info = load_clip("book_table_for_two")
    agent, agent_info = load_clip("phone_number")
    gap = np.zeros(RATE, np.float32)
    left = np.concatenate([gap[: RATE // 2], caller, gap, np.zeros(agent.size, np.float32), gap])
    right = np.concatenate([gap[: RATE // 2], np.zeros(caller.size, np.float32), gap, agent, gap])
    sf.write(path, np.stack([left, right], axis=1), RATE, subtype="PCM_16")
    return str(caller_info["text"]), str(agent_info["text"])


def words(text: str) -> set[str]:
    return {"".join(c for c in w.lower() if c.isalnum()) for w in text.split()}


def turn(start: float, text: str = "x") -> Turn:
    return Turn(0, start, start + 1, text, finished=True)


def test_merger_releases_turns_in_start_order_once_every_channel_has_passed() -> None:
    out: list[tuple[str, float]] = []
    merger = TimeOrderMerger(["a", "b"], lambda name, t: out.append((name, t.start)))
    merger.add("b", turn(5.0))
    merger.release({"a": 3.0, "b": 6.0})  # a may still produce a turn starting at 3 s
    assert out == []
    merger.add("a", turn(3.0))
    merger.release({"a": 7.0, "b": 6.0})
    assert out == [("a", 3.0), ("b", 5.0)]
    merger.add("a", turn(8.0))
    merger.release({"a": 9.0, "b": DONE})
    assert out[-1] == ("a", 8.0) and merger.held == 0


def test_channel_names_are_checked() -> None:
    assert parse_names("caller, agent") == ["caller", "agent"]
    assert parse_names(None) is None
    with pytest.raises(UsageError, match="its own name"):
        parse_names("a,a")
    with pytest.raises(UsageError, match="not a name"):
        parse_names("a,<b>")


def test_stereo_call_gives_labelled_turns_from_both_channels(tmp_path: Path) -> None:
    path = tmp_path / "call.wav"
    caller_text, agent_text = stereo_call(path)
    result = subprocess.run(
        [*FLUX, "transcribe", str(path), "--multichannel", "--channel-names", "caller,agent",
         "--fast", "--output", "text", "--jsonl", str(tmp_path / "call.jsonl"),
         "--vtt", str(tmp_path / "call.vtt")],
        capture_output=True, text=True, env=env(), timeout=timeout(120),
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == ["caller", "agent"], result.stdout
    assert len(words(lines[0]) & words(caller_text)) >= 5
    assert len(words(lines[1]) & words(agent_text)) >= 3
    cues = webvtt.read(str(tmp_path / "call.vtt")).captions
    voices = [c.voice for c in cues]
    assert voices[0] == "caller" and "agent" in voices
    records = [json.loads(x) for x in (tmp_path / "call.jsonl").read_text().splitlines()]
    assert {r["channel"] for r in records} == {"caller", "agent"}
    ends = [r for r in records if r.get("event") == "EndOfTurn"]
    assert {r["channel"] for r in ends} == {"caller", "agent"}


def test_multichannel_needs_several_channels(tmp_path: Path) -> None:
    data, _ = load_clip("okay")
    sf.write(tmp_path / "mono.wav", data, RATE, subtype="PCM_16")
    result = subprocess.run(
        [*FLUX, "transcribe", str(tmp_path / "mono.wav"), "--multichannel",
         "--url", "ws://127.0.0.1:9"],
        capture_output=True, text=True, env=env(), timeout=timeout(60),
    )
    assert result.returncode == 2
    assert result.stderr == (
        f"flux: error: {tmp_path / 'mono.wav'} has 1 channel; --multichannel needs 2 or more\n"
    )
