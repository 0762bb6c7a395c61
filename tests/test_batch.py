"""Several inputs: ``flux transcribe A B --jobs 2`` on the real local engine, plus pure helpers."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import timeout
from helpers.cli import FLUX, env
from helpers.speech import RATE, load_clip

from flux_cli.errors import UsageError
from flux_cli.transcribe.batch import check_inputs
from flux_cli.transcribe.settings import TranscribeSettings
from flux_cli.transcribe.targets import per_input_paths

pytestmark = pytest.mark.slow  # real models or processes: the full tier


def padded_clip(tmp_path: Path, name: str) -> tuple[Path, str]:
    """A committed clip with silence around it, so the engine ends its turn (the learned
    detector may wait ~1.5 s after a flite voice's last word)."""
    data, info = load_clip(name)
    tail = np.zeros(RATE * 5 // 2, np.float32)
    audio = np.concatenate([np.zeros(RATE // 2, np.float32), data, tail])
    path = tmp_path / f"{name}.wav"
    sf.write(path, audio, RATE, subtype="PCM_16")
    return path, str(info["text"])


def words(text: str) -> list[str]:
    return ["".join(c for c in w.lower() if c.isalnum()) for w in text.split()]


def test_per_input_paths_are_named_after_the_inputs() -> None:
    paths = per_input_paths("out/", ["a/call.wav", "b/call.flac", "-", "x.mp3"], "jsonl")
    assert paths == ["out/call.jsonl", "out/call-2.jsonl", "out/stdin.jsonl", "out/x.jsonl"]


@pytest.mark.parametrize(
    ("sources", "kw", "message"),
    [
        (["-", "a.wav", "-"], {}, "only once"),
        (["a.wav", "b.wav"], {"output": "live"}, "--output live"),
        (["a.wav", "b.wav"], {"jsonl": "-"}, "--jsonl -"),
        (["a.wav", "b.wav"], {"srt": "one.srt"}, "name a directory"),
    ],
)
def test_flags_that_need_one_input_are_refused(
    sources: list[str], kw: dict[str, str], message: str
) -> None:
    with pytest.raises(UsageError, match=message):
        check_inputs(sources, TranscribeSettings(source=sources[0], **kw))  # type: ignore[arg-type]


def test_two_files_two_jobs_labelled_with_one_log_each(tmp_path: Path) -> None:
    first, first_text = padded_clip(tmp_path, "book_table_for_two")
    second, second_text = padded_clip(tmp_path, "phone_number")
    logs = tmp_path / "logs"
    result = subprocess.run(
        [*FLUX, "transcribe", str(first), str(second), str(tmp_path / "missing.wav"),
         "--jobs", "2", "--fast", "--output", "text", "--jsonl", f"{logs}/"],
        capture_output=True, text=True, env=env(), timeout=timeout(120),
    )
    assert result.returncode == 3, result.stderr  # the worst input: the missing one
    lines = result.stdout.splitlines()
    by_file = {str(first): first_text, str(second): second_text}
    for path, text in by_file.items():
        mine = [line for line in lines if line.startswith(f"{path}: [")]
        assert mine, result.stdout
        heard = " ".join(line.split("] ", 1)[1] for line in mine)
        assert len(set(words(heard)) & set(words(text))) >= len(words(text)) // 2
    assert sorted(p.name for p in logs.iterdir()) == [
        "book_table_for_two.jsonl", "phone_number.jsonl"
    ]
    for name in ("book_table_for_two", "phone_number"):
        records = [json.loads(x) for x in (logs / f"{name}.jsonl").read_text().splitlines()]
        assert records[0]["type"] == "flux.request" and records[-1]["type"] == "flux.end"
        assert any(r.get("event") == "EndOfTurn" for r in records)
    err = result.stderr.splitlines()
    assert f"flux: error: {tmp_path / 'missing.wav'}: no such file" in err
    assert err[-1].startswith("flux: 3 inputs: 2 done, 1 failed (")
    assert "Traceback" not in result.stderr


def test_json_lines_name_their_file(tmp_path: Path) -> None:
    first, _ = padded_clip(tmp_path, "thank_you_so_much")
    second, _ = padded_clip(tmp_path, "what_time")
    result = subprocess.run(
        [*FLUX, "transcribe", str(first), str(second), "--fast", "--output", "json"],
        capture_output=True, text=True, env=env(), timeout=timeout(120),
    )
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert {r["file"] for r in records} == {str(first), str(second)}
    assert all(next(iter(r)) == "file" and r["transcript"] for r in records)
