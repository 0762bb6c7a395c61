"""benchmarks.noise_seeds' pure parts: the noise, the copies, the verdict, the reports."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from benchmarks import noise_seeds
from benchmarks.corpus import Call


def test_seed_zero_is_the_audio_as_it_is() -> None:
    audio = np.linspace(-0.5, 0.5, 1000, dtype=np.float32)
    assert noise_seeds.with_noise(audio, 0, "call00", -90.0) is audio


def test_the_noise_is_the_same_for_a_seed_and_call_and_differs_between_calls() -> None:
    audio = np.zeros(100_000, dtype=np.float32)
    a = noise_seeds.with_noise(audio, 1, "call00", -90.0)
    assert a.dtype == np.float32
    assert np.array_equal(a, noise_seeds.with_noise(audio, 1, "call00", -90.0))
    assert not np.array_equal(a, noise_seeds.with_noise(audio, 1, "call01", -90.0))
    assert not np.array_equal(a, noise_seeds.with_noise(audio, 2, "call00", -90.0))
    rms_db = 20 * np.log10(np.sqrt(np.mean(a.astype(np.float64) ** 2)))
    assert rms_db == pytest.approx(-90.0, abs=0.1)


def test_a_noisy_copy_is_16_bit_and_one_or_two_steps_from_the_original(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    pcm = (rng.standard_normal(16000) * 3000).astype(np.int16)
    src = tmp_path / "call00.wav"
    sf.write(src, pcm, 16000, subtype="PCM_16")
    call = Call("call00", src, 1.0, "v", [])
    assert noise_seeds.noisy_copy(call, 0, -90.0, tmp_path / "x") is call
    (tmp_path / "out").mkdir()
    copy = noise_seeds.noisy_copy(call, 1, -90.0, tmp_path / "out")
    assert copy.path == tmp_path / "out" / "call00.wav" and copy.turns == call.turns
    assert sf.info(copy.path).subtype == "PCM_16"
    steps = sf.read(copy.path, dtype="int16")[0].astype(int) - pcm
    assert np.count_nonzero(steps) > 8000  # one step of noise moves most samples
    assert np.abs(steps).max() <= 6


def test_only_ranges_that_do_not_overlap_are_beyond_the_noise() -> None:
    assert noise_seeds.beyond_noise([0.10, 0.12, 0.11], [0.15, 0.16, 0.17], -1) == "better"
    assert noise_seeds.beyond_noise([0.10, 0.12, 0.11], [0.15, 0.16, 0.17], 1) == "worse"
    assert noise_seeds.beyond_noise([0.10, 0.15, 0.11], [0.15, 0.16, 0.17], -1) == "within noise"
    assert noise_seeds.beyond_noise([None, None], [0.1, 0.2], -1) == "-"


def row(cut: int, pauses: int, wer: float, changes: float | None = None) -> dict[str, Any]:
    return {"pauses_cut": cut, "pauses": pauses, "false_cutoff_rate": cut / pauses,
            "missed_rate": 0.01, "eot_p50": 0.8, "eot_p90": 1.5, "wer": wer,
            "speaker_changes": {"rate": changes}}


def targets(cut: float) -> dict[str, Any]:
    return {"families": {"synthetic": {"cut": cut, "p50": 0.856, "p90": 1.512, "missed": 0.007,
                                       "met": False}}, "worst": "synthetic",
            "two_party": {"changes_rate": 0.542, "cut": 0.199}}


def run(cuts: list[int], commit: str) -> dict[str, Any]:
    return {"machine": {"cpu": "test CPU"}, "engine": "", "commit": commit,
            "sets": ["synthetic"], "seeds": [0, 1, 2], "level_dbfs": -90.0,
            "run": {str(i): {"e2e": {"synthetic": row(c, 173, 0.1)},
                             "targets": targets(c / 173)} for i, c in enumerate(cuts)}}


def test_the_report_gives_each_seed_in_order_and_the_targets_per_seed() -> None:
    text = noise_seeds.markdown(run([30, 28, 29], "abc1234"))
    assert "| synthetic | 30 · 28 · 29 of 173 | 17.3 · 16.2 · 16.8 | 1.0 · 1.0 · 1.0 | " \
        "800 · 800 · 800 | 1500 · 1500 · 1500 | 10.0 · 10.0 · 10.0 |" in text
    assert "| 1 | synthetic | 16.2% / 856 / 1512 ms / 0.7% | 0 of 1 | 54.2% | 19.9% |" in text
    assert "Every stream of every seed ended cleanly (exit 0)." in text
    alone = run([30, 28, 29], "abc1234")
    for r in alone["run"].values():
        r["targets"]["two_party"] = {"changes_rate": None, "cut": None}
    assert "| 0 | synthetic | 17.3% / 856 / 1512 ms / 0.7% | 0 of 1 | - | - |" \
        in noise_seeds.markdown(alone)  # no two-party set in the run
    alone["run"]["2"]["e2e"]["synthetic"]["failures"] = ["synthetic/call03: exit 4: ['x']"]
    assert "1 streams failed: seed 2: synthetic/call03: exit 4" in noise_seeds.markdown(alone)


def test_the_comparison_calls_a_difference_only_beyond_the_seeds(tmp_path: Path) -> None:
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps(run([30, 28, 29], "d99c995")))
    b.write_text(json.dumps(run([20, 21, 22], "abc1234")))
    assert noise_seeds.main(["--compare", str(a), str(b), "--results-dir", str(tmp_path),
                             "--out", "cmp"]) == 0
    text = (tmp_path / "cmp.md").read_text()
    assert "| synthetic | false cut-offs (%) | 17.3 · 16.2 · 16.8 | 11.6 · 12.1 · 12.7 | " \
        "better |" in text
    assert "| synthetic | WER (%) | 10.0 · 10.0 · 10.0 | 10.0 · 10.0 · 10.0 | within noise |" \
        in text
    rows = json.loads((tmp_path / "cmp.json").read_text())["rows"]
    assert {"set": "synthetic", "figure": "false_cutoff_rate", "baseline": [30 / 173, 28 / 173,
            29 / 173], "current": [20 / 173, 21 / 173, 22 / 173], "verdict": "better"} in rows


def test_runs_over_other_seeds_do_not_compare(tmp_path: Path) -> None:
    other = run([30, 28], "d99c995")
    other["seeds"] = [0, 1]
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps(other))
    b.write_text(json.dumps(run([20, 21, 22], "abc1234")))
    with pytest.raises(SystemExit, match="different seeds"):
        noise_seeds.main(["--compare", str(a), str(b), "--results-dir", str(tmp_path)])


def test_an_unknown_set_is_one_line() -> None:
    with pytest.raises(SystemExit, match="unknown set"):
        noise_seeds.main(["--sets", "nosuchset"])


def test_one_engines_runs_over_other_sets_compare_as_one(tmp_path: Path) -> None:
    first, second = run([30, 28, 29], "d99c995"), run([5, 6, 5], "d99c995")
    second["sets"] = ["unseen_hts"]
    for r in second["run"].values():
        r["e2e"] = {"unseen_hts": r["e2e"].pop("synthetic")}
    paths = [tmp_path / "a.json", tmp_path / "b.json"]
    for path, data in zip(paths, (first, second), strict=True):
        path.write_text(json.dumps(data))
    both = noise_seeds.merged(paths)
    assert both["sets"] == ["synthetic", "unseen_hts"]
    assert [both["run"][s]["e2e"]["unseen_hts"]["pauses_cut"] for s in "012"] == [5, 6, 5]
    assert both["run"]["0"]["targets"]["worst"] == "synthetic"
    second["commit"] = "abc1234"
    paths[1].write_text(json.dumps(second))
    with pytest.raises(SystemExit, match="share the commit"):
        noise_seeds.merged(paths)


def test_one_engines_runs_over_other_seeds_compare_as_one(tmp_path: Path) -> None:
    early, late = run([30, 28, 29], "d99c995"), run([27, 26, 25], "d99c995")
    early["seeds"], late["seeds"] = [0, 1], [2]
    early["run"].pop("2")
    late["run"] = {"2": late["run"]["2"]}
    paths = [tmp_path / "late.json", tmp_path / "early.json"]
    for path, data in zip(paths, (late, early), strict=True):
        path.write_text(json.dumps(data))
    both = noise_seeds.merged(paths)
    assert both["seeds"] == [0, 1, 2] and list(both["run"]) == ["0", "1", "2"]
    assert [both["run"][s]["e2e"]["synthetic"]["pauses_cut"] for s in "012"] == [30, 28, 25]
    assert noise_seeds.main(["--merge", f"{paths[0]},{paths[1]}", "--results-dir",
                             str(tmp_path), "--out", "all"]) == 0
    assert "| synthetic | 30 · 28 · 25 of 173 |" in (tmp_path / "all.md").read_text()
    assert json.loads((tmp_path / "all.json").read_text())["seeds"] == [0, 1, 2]
    with pytest.raises(SystemExit, match="more than one run"):
        noise_seeds.merged([paths[1], paths[1]])
    late["sets"] = ["unseen_hts"]
    late["run"]["2"]["e2e"] = {"unseen_hts": late["run"]["2"]["e2e"].pop("synthetic")}
    paths[0].write_text(json.dumps(late))
    lacking = "lack unseen_hts under seed 0, unseen_hts under seed 1, synthetic under seed 2"
    with pytest.raises(SystemExit, match=lacking):
        noise_seeds.merged(paths)
