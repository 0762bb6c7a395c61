"""Truth from labels: Audacity label tracks, RTTM and the benchmark's JSON, literal inputs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flux_cli.evaluate.gaps import GapRule
from flux_cli.evaluate.labels import LabelError, parse_audacity, parse_rttm, read_labels
from flux_cli.evaluate.truth import Hold, Shift

SAMPLES = Path(__file__).resolve().parent.parent / "samples"

AUDACITY = (
    "0.500000\t2.000000\tcaller\n"
    "2.600000\t4.000000\tcaller\n"
    "\\\t100.0\t4000.0\n"  # a spectral-selection line: skipped
    "4.800000\t6.500000\tagent\n"
    "7.200000\t9.000000\tcaller\n"
)
RTTM = (
    "SPEAKER call 1 0.50 1.50 <NA> <NA> caller <NA> <NA>\n"
    "SPEAKER call 1 2.60 1.40 <NA> <NA> caller <NA> <NA>\n"
    "SPEAKER call 1 4.80 1.70 <NA> <NA> agent <NA> <NA>\n"
    "SPEAKER call 1 7.20 1.80 <NA> <NA> caller <NA> <NA>\n"
    "SPEAKER other 1 0.00 9.00 <NA> <NA> caller <NA> <NA>\n"
)


def test_parse_audacity() -> None:
    found = parse_audacity(AUDACITY)
    assert found == {"caller": [(0.5, 2.0), (2.6, 4.0), (7.2, 9.0)], "agent": [(4.8, 6.5)]}
    with pytest.raises(LabelError, match="line 1"):
        parse_audacity("zero\tone\n")


def test_parse_rttm_keeps_the_recording_asked_for() -> None:
    assert parse_rttm(RTTM, "call") == parse_audacity(AUDACITY)
    assert len(parse_rttm(RTTM)["caller"]) == 4


@pytest.mark.parametrize(("name", "text"), [("call.txt", AUDACITY), ("call.rttm", RTTM)])
def test_labels_give_holds_and_shifts(tmp_path: Path, name: str, text: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    truth = read_labels(path, "call.wav", 12.0, speaker="caller")
    assert truth.holds == [Hold(2.0, 2.6)]
    # mono: the server hears the agent start, so the turn must end before 4.8 (+ slack)
    assert truth.shifts == [Shift(4.0, 4.8, 4.8), Shift(9.0, None, 12.0)]
    assert truth.method.startswith("RTTM" if name.endswith(".rttm") else "Audacity labels")
    everyone = read_labels(path, "call.wav", 12.0)  # no speaker named: every turn counts
    assert everyone.shifts == [Shift(4.0, 4.8, 4.8), Shift(6.5, 7.2, 7.2),
                               Shift(9.0, None, 12.0)]
    with pytest.raises(LabelError, match="no speech labelled 'bot'"):
        read_labels(path, "call.wav", 12.0, speaker="bot")


def test_benchmark_json(tmp_path: Path) -> None:
    data = json.loads((SAMPLES / "labels.json").read_text())
    truth = read_labels(SAMPLES / "labels.json", "dialogue.wav", 0.0, speaker="caller")
    caller = [t for t in data["dialogue.wav"]["turns"] if t["speaker"] == "caller"]
    turns = data["dialogue.wav"]["turns"]
    assert [(h.start, h.end) for h in truth.holds] == [
        tuple(p) for t in caller for p in t["pauses"] if p[1] - p[0] >= GapRule().min_pause_s
    ]
    ends = [t["end"] for t in caller]
    assert [s.end for s in truth.shifts] == ends
    nxt = [turns[turns.index(t) + 1]["start"] for t in caller]
    assert [s.response for s in truth.shifts] == nxt
    assert truth.duration == data["dialogue.wav"]["duration"]
    # dialogue.opus is "same_as" dialogue.wav
    again = read_labels(SAMPLES / "labels.json", "dialogue.opus", 0.0, speaker="caller")
    assert again.holds == truth.holds


def test_bad_label_files(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(LabelError, match="bad JSON"):
        read_labels(bad, "x.wav", 1.0)
    empty = tmp_path / "empty.txt"
    empty.write_text("\n")
    with pytest.raises(LabelError, match="no labelled speech"):
        read_labels(empty, "x.wav", 1.0)
    with pytest.raises(LabelError, match="cannot read"):
        read_labels(tmp_path / "missing.txt", "x.wav", 1.0)
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"y.wav": {"turns": []}}))
    with pytest.raises(LabelError, match=r"no turns for x\.wav"):
        read_labels(other, "x.wav", 1.0)
