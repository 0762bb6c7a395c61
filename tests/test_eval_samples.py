"""The bundled stereo calls hold the turn-taking the README's worked example relies on, and
the dental call's truth from its channels matches ``samples/labels.json`` for the caller."""

from __future__ import annotations

from pathlib import Path

import pytest

from flux_cli.evaluate.calls import TruthSource, call_truth
from flux_cli.evaluate.labels import read_labels

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
TOLERANCE = 0.06


def test_dental_call_matches_the_labels() -> None:
    channels = call_truth(str(SAMPLES / "calls" / "dental.ogg"), TruthSource())
    labels = read_labels(SAMPLES / "labels.json", "dialogue.wav", 0.0, speaker="caller")
    assert len(channels.holds) == len(labels.holds) == 2
    for got, want in zip(channels.holds, labels.holds, strict=True):
        assert got.start == pytest.approx(want.start, abs=TOLERANCE)
        assert got.end == pytest.approx(want.end, abs=TOLERANCE)
    assert [s.end for s in channels.shifts] == pytest.approx(
        [s.end for s in labels.shifts], abs=TOLERANCE)
    assert [s.response for s in channels.shifts] == pytest.approx(
        [s.response for s in labels.shifts], abs=TOLERANCE)


def test_order_call_shape() -> None:
    truth = call_truth(str(SAMPLES / "calls" / "order.ogg"), TruthSource())
    assert len(truth.holds) == 5 and truth.backchannels == 1
    assert len(truth.shifts) == 3
    gaps = [s.agent_gap for s in truth.shifts]
    assert gaps[0] == pytest.approx(0.7, abs=TOLERANCE)
    assert gaps[1] == pytest.approx(1.0, abs=TOLERANCE)
    assert gaps[2] is not None and gaps[2] < 0  # the agent's "Thanks." overlaps the caller
