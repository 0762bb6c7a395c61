"""Benchmark scoring with literal inputs, and one end-to-end run of the runner so it cannot rot."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from benchmarks.scoring import (
    Event,
    OperatingPoint,
    cutoff_at_latency,
    edit_distance,
    event_from_record,
    hypothesis,
    latency_at_cutoff,
    normalise,
    pacing,
    percentile,
    rss_growth,
    score_turns,
    wall_latencies,
    wer,
)
from benchmarks.synth import TurnLabel
from tests.conftest import timeout

ROOT = Path(__file__).resolve().parent.parent

# Two turns: the first has one pause inside it (2.0-2.8 s), the second none.
LABELS = [
    TurnLabel("I would like a table for, um, four people.", 1.0, 4.0, [(2.0, 2.8)]),
    TurnLabel("Yes please.", 7.0, 8.0, []),
]


def test_turn_end_detected_with_latency() -> None:
    score = score_turns(LABELS, [4.3, 8.5])
    assert (score.turns, score.detected, score.missed) == (2, 2, 0)
    assert score.latencies == pytest.approx([0.3, 0.5])
    assert (score.pauses, score.pauses_cut, score.false_cutoff_rate) == (1, 0, 0.0)


def test_end_in_pause_is_a_false_cutoff() -> None:
    score = score_turns(LABELS, [2.4, 4.3, 8.5])
    assert score.pauses_cut == 1
    assert score.false_cutoff_rate == 1.0
    assert score.detected == 2


def test_cutoffs_counted_by_pause_kind() -> None:
    turn = TurnLabel("So, um, yes and no.", 0.0, 5.0, [(1.0, 1.5), (3.0, 3.3)],
                     pause_kinds=["inserted", "natural"])
    score = score_turns([turn], [1.2, 3.1, 5.2])
    assert (score.pauses, score.pauses_cut) == (2, 2)
    assert (score.inserted_pauses, score.inserted_cut) == (1, 1)
    plain = score_turns(LABELS, [2.4, 4.3])  # no kinds given: every pause counts as inserted
    assert (plain.inserted_pauses, plain.inserted_cut) == (1, 1)


def test_end_just_after_pause_still_counts_within_slack() -> None:
    assert score_turns(LABELS, [3.0, 4.3], slack=0.3).pauses_cut == 1
    assert score_turns(LABELS, [3.0, 4.3], slack=0.1).pauses_cut == 0
    assert score_turns(LABELS, [3.0, 4.3], slack=0.1).cuts_mid_speech == 1


def test_two_turns_merged_is_a_missed_end() -> None:
    score = score_turns(LABELS, [8.4])
    assert (score.detected, score.missed) == (1, 1)
    assert score.missed_rate == 0.5
    assert score.latencies == pytest.approx([0.4])


def test_end_after_next_turn_started_belongs_to_next_turn() -> None:
    # 7.5 s is inside the second turn's speech: the first turn's end was missed, and the
    # second turn was cut while its speaker was talking.
    score = score_turns(LABELS, [7.5, 8.2])
    assert score.missed == 1
    assert score.cuts_mid_speech == 1
    assert score.latencies == pytest.approx([0.2])


def test_slightly_early_end_counts_with_negative_latency() -> None:
    score = score_turns(LABELS, [3.9, 8.0])
    assert score.latencies == pytest.approx([-0.1, 0.0])


def test_repeated_end_events_are_extra_not_detections() -> None:
    score = score_turns(LABELS, [4.2, 5.0, 8.3])
    assert score.detected == 2
    assert score.extra == 1


def test_percentile() -> None:
    assert percentile([], 50) is None
    assert percentile([3.0], 90) == 3.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == pytest.approx(2.5)
    assert percentile([0.0, 10.0], 90) == pytest.approx(9.0)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("Seven three nine.", ["739"]),
        ("739", ["739"]),
        ("It's at 9:30, um, please!", ["it", "is", "at", "930", "please"]),
        ("it is at nine thirty please", ["it", "is", "at", "930", "please"]),
        ("March fifth, nineteen eighty four", ["march", "5th", "1984"]),
        ("March 5th, 1984.", ["march", "5th", "1984"]),
        ("twenty-first", ["21st"]),
        ("Sarah at example dot com", ["sarah", "at", "example", "com"]),
        ("sarah@example.com", ["sarah", "at", "example", "com"]),
        ("555-2198", ["5552198"]),
        ("Okay, that's fine.", ["ok", "that", "is", "fine"]),
    ],
)
def test_normalise(text: str, words: list[str]) -> None:
    assert normalise(text) == words


def test_edit_distance_and_wer() -> None:
    assert edit_distance(["a", "b", "c"], ["a", "x", "c", "d"]) == 2
    assert edit_distance([], ["a"]) == 1
    rate, errors, words = wer([("my number is seven three nine", "My number is 739."),
                               ("no thanks", "no")])
    assert (errors, words) == (1, 6)
    assert rate == pytest.approx(1 / 6)
    assert wer([])[0] == 0.0


def _event(kind: str, end: float, text: str = "", received: float | None = None) -> Event:
    return Event(kind, 0, 0.0, end, text, received=received)


def test_hypothesis_joins_end_of_turns_and_keeps_unfinished_turn() -> None:
    events = [_event("Update", 0.5), _event("StartOfTurn", 1.0, "hello"),
              _event("EndOfTurn", 2.0, "hello there"), _event("Update", 3.0, "yes"),
              _event("Update", 3.5, "yes please")]
    assert hypothesis(events) == "hello there yes please"
    assert hypothesis(events[:3]) == "hello there"


def test_event_from_jsonl_record() -> None:
    record = {"type": "TurnInfo", "event": "EndOfTurn", "turn_index": 2,
              "audio_window_start": 1.0, "audio_window_end": 4.32, "transcript": "hi",
              "words": [], "end_of_turn_confidence": 0.91, "trigger": "model",
              "sequence_id": 9, "request_id": "x", "received_at": 1700000000.5}
    event = event_from_record(record)
    assert event == Event("EndOfTurn", 2, 1.0, 4.32, "hi", 0.91, "model", 1700000000.5)
    assert event_from_record({"type": "Connected", "request_id": "x", "sequence_id": 0}) is None


def test_tradeoff_picks_from_measured_points() -> None:
    points = [OperatingPoint("0.5", 0.30, 0.20), OperatingPoint("0.7", 0.12, 0.35),
              OperatingPoint("0.9", 0.04, 0.70), OperatingPoint("1.0", 0.01, None)]
    assert cutoff_at_latency(points, 0.3) == points[0]
    assert cutoff_at_latency(points, 0.6) == points[1]
    assert cutoff_at_latency(points, 0.1) is None
    assert latency_at_cutoff(points, 0.05) == points[2]
    assert latency_at_cutoff(points, 0.10) == points[2]
    assert latency_at_cutoff(points, 0.001) is None


def test_wall_latencies_from_receive_times() -> None:
    events = [_event("EndOfTurn", 4.3, received=104.6), _event("EndOfTurn", 8.4, received=108.9)]
    assert wall_latencies(LABELS, events, lambda t: 100.0 + t) == pytest.approx([0.6, 0.9])
    assert wall_latencies(LABELS, events, lambda t: None) == []


def test_pacing_deviation_and_drift() -> None:
    frames = [0.08] * 5
    stats = pacing([10.0, 10.08, 10.161, 10.24, 10.322], frames)
    assert stats["frames"] == 5
    assert stats["p99_abs"] == pytest.approx(0.002, abs=1e-4)
    assert stats["drift"] == pytest.approx(0.002)
    assert pacing([], [])["frames"] == 0


def test_rss_growth_flat_and_leaking() -> None:
    flat = [(float(t), 100e6 + (t % 3) * 1e5) for t in range(40)]
    leak = [(float(t), 100e6 + t * 1e6) for t in range(40)]
    assert abs(rss_growth(flat)) < 1e6
    assert rss_growth(leak) > 15e6


@pytest.mark.slow
def test_runner_smoke(tmp_path: Path) -> None:
    """The whole pipeline on one tiny call: corpus, server, CLI, scoring, report."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    out = tmp_path / "results"
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--quick", "--smoke",
         "--corpus-dir", str(tmp_path / "corpus"), "--results-dir", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout(120),
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    data = json.loads((out / "latest.json").read_text())
    assert data["machine"]["cores"] >= 1
    accuracy = data["accuracy"]
    assert accuracy["turns"] == 4
    assert accuracy["detected"] + accuracy["missed"] == 4
    assert 0.0 <= accuracy["wer"] < 0.5
    assert "| EOT latency p50" in (out / "latest.md").read_text()
    assert "EOT latency p50" in proc.stdout


def test_corpus_plan_is_deterministic_in_the_seed() -> None:
    """Texts, voice, gaps and pauses are drawn before any synthesis: same seed, same plan."""
    from benchmarks import corpus

    for index in range(3):
        first = corpus.call_specs(corpus.DEFAULT_SEED, index, 24)
        assert corpus.call_specs(corpus.DEFAULT_SEED, index, 24) == first
        assert corpus.call_specs(corpus.DEFAULT_SEED + 1, index, 24) != first
    _voice, specs, kinds = corpus.call_specs(corpus.DEFAULT_SEED, 0, 24)
    assert len(specs) == len(kinds) == 24
    assert specs[0].gap_before == 0.5
    assert all(1.5 <= s.gap_before <= 4.0 for s in specs[1:])
    assert all(0.3 <= p <= 1.5 for s in specs for p in s.pauses)
    assert all(len(s.segments) == len(s.pauses) + 1 for s in specs)


def _labels(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((ROOT / "benchmarks" / name).read_text())
    return data


@pytest.mark.parametrize(("labels", "size"), [("smoke/labels.json", "smoke"),
                                              ("corpus_labels.json", "full")])
def test_committed_labels_follow_the_seeded_plan(labels: str, size: str) -> None:
    """Every committed turn is the planned text, voice, gap and inserted pauses, in order."""
    from benchmarks import corpus

    data = _labels(labels)
    assert len(data["calls"]) == corpus.SIZES[size].calls
    for index, call in enumerate(data["calls"]):
        voice, specs, kinds = corpus.call_specs(data["seed"], index,
                                                corpus.SIZES[size].turns_per_call)
        assert call["voice"] == voice.label
        previous_end = 0.0
        for spec, kind, turn in zip(specs, kinds, call["turns"], strict=True):
            assert (turn["text"], turn["kind"]) == (spec.text, kind)
            assert turn["start"] - previous_end == pytest.approx(spec.gap_before, abs=0.002)
            inserted = [b - a for (a, b), k in zip(turn["pauses"], turn["pause_kinds"],
                                                   strict=True) if k == "inserted"]
            assert inserted == pytest.approx(spec.pauses, abs=0.002)
            previous_end = turn["end"]
        assert call["duration"] - previous_end == pytest.approx(3.0, abs=0.002)  # the tail


def test_smoke_corpus_is_the_committed_audio(tmp_path: Path) -> None:
    """``--smoke`` runs the committed call: nothing is synthesized, so no flite/espeak-ng."""
    from benchmarks import corpus

    calls = corpus.build("smoke", tmp_path)
    assert [c.to_dict() for c in calls] == _labels("smoke/labels.json")["calls"]
    assert [c.path.parent for c in calls] == [ROOT / "benchmarks" / "smoke"]
    assert not any(tmp_path.rglob("*.wav"))
    info = sf.info(calls[0].path)
    assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
    assert info.duration == pytest.approx(calls[0].duration, abs=0.001)
    assert 15 <= info.duration <= 30
    assert calls[0].path.stat().st_size < 1_000_000


def _db(audio: np.ndarray) -> float:
    return 20 * float(np.log10(max(float(np.sqrt(np.mean(audio.astype(np.float64) ** 2))),
                                   1e-10)))


def test_committed_smoke_audio_matches_its_labels() -> None:
    """Speech and silence are where the labels say: re-measured from the audio by RMS."""
    from benchmarks import corpus
    from benchmarks.synth import FRAME, quiet_runs, speech_bounds

    calls = corpus.load_committed("smoke")
    assert calls is not None
    audio, rate = sf.read(calls[0].path, dtype="float32")
    turns = calls[0].turns

    def at(seconds: float) -> int:
        return round(seconds * rate)

    edges = [0.0] + [x for t in turns for x in (t.start, t.end)] + [len(audio) / rate]
    for a, b in zip(edges[::2], edges[1::2], strict=True):  # before, between, after the turns
        assert _db(audio[at(a): at(b)]) < -55, (a, b)
    for turn in turns:
        start, end = at(turn.start), at(turn.end)
        assert _db(audio[start:end]) > -30, turn.text
        # the labelled bounds are the first and last loud 10 ms frames
        assert speech_bounds(audio[start - 10 * FRAME: end + 10 * FRAME]) == \
            (10 * FRAME, end - start + 10 * FRAME), turn.text
        measured = [(a / rate, b / rate) for a, b in quiet_runs(audio, start, end)]
        flat = [edge for pause in measured for edge in pause]
        expected = [edge for pause in turn.pauses for edge in pause]
        assert flat == pytest.approx(expected, abs=0.001), turn.text
        for (p0, p1), kind in zip(turn.pauses, turn.pause_kinds, strict=True):
            limit = -55 if kind == "inserted" else -40  # inserted = zeros + -60 dBFS noise
            assert _db(audio[at(p0): at(p1)]) < limit, (kind, p0, p1)
    assert sum(len(t.pauses) for t in turns) >= 2


def test_committed_full_corpus_labels_meet_the_floors() -> None:
    data = json.loads((ROOT / "benchmarks" / "corpus_labels.json").read_text())
    assert data["minutes"] >= 30
    assert data["turns"] >= 200
    assert data["inserted_pauses"] >= 150
    durations = [c["duration"] for c in data["calls"]]
    assert all(120 <= d <= 300 for d in durations), durations
    gaps = [b["start"] - a["end"] for c in data["calls"]
            for a, b in zip(c["turns"], c["turns"][1:], strict=False)]
    assert min(gaps) >= 1.5 and max(gaps) <= 4.0 + 0.01
    inserted = [p1 - p0 for c in data["calls"] for t in c["turns"]
                for (p0, p1), k in zip(t["pauses"], t["pause_kinds"], strict=True)
                if k == "inserted"]
    assert min(inserted) >= 0.3 - 0.01 and max(inserted) <= 1.5 + 0.01
    kinds = {t["kind"] for c in data["calls"] for t in c["turns"]}
    assert kinds == {"question", "statement", "short"}


def test_results_name_the_vector_units_the_kernels_were_picked_by() -> None:
    # word times and Smart Turn's int8 scores differ between these machines: the results say which
    from benchmarks.report import vector_units

    assert vector_units({"AVX2", "FMA3"}, "x86_64") == "AVX2, no VNNI"  # Zen 2/3, Haswell
    assert vector_units({"AVX2", "AVX512F", "AVX512VNNI"}, "x86_64") == "AVX-512, VNNI"  # Zen 4
    assert vector_units({"AVX2", "AVXVNNI"}, "x86_64") == "AVX2, VNNI"  # Alder Lake
    assert vector_units({"ASIMD"}, "aarch64") == "aarch64"
