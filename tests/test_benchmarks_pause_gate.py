"""benchmarks.pause_gate's pure parts: pause runs, where a pause begins, the report."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np

from benchmarks.pause_gate import inside, markdown, pause_starts, verdicts
from flux_cli.engine.interfaces import SAMPLE_RATE, VAD_WINDOW


def test_a_pause_counts_once_it_lasts_long_enough() -> None:
    speech = np.array([1, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0], bool)
    assert pause_starts(speech, 3) == [4, 9]


def test_inside_a_turn_away_from_its_labelled_pauses() -> None:
    call: Any = SimpleNamespace(turns=[SimpleNamespace(start=1.0, end=4.0, pauses=[(2.0, 2.5)])])
    assert inside(1.5, call)
    assert not inside(1.95, call)  # just before a labelled pause: that pause
    assert not inside(2.2, call)
    assert inside(3.0, call)
    assert not inside(4.5, call)  # after the turn


def test_the_gate_overrules_voiced_windows_near_the_floor_only() -> None:
    # 3 s of quiet babble the VAD calls speech, then a voice 20 dB over it
    window_s = VAD_WINDOW / SAMPLE_RATE
    n = round(4.0 / window_s)
    rng = np.random.default_rng(0)
    audio = (0.01 * rng.standard_normal(n * VAD_WINDOW)).astype(np.float32)
    loud_from = round(3.0 / window_s)
    audio[loud_from * VAD_WINDOW:] *= 10
    voiced, loud = verdicts(audio, np.full(n, 0.9))
    assert voiced.all()
    assert loud[: round(2.0 / window_s)].all()  # the floor is not trusted for 2 s
    assert not loud[round(2.5 / window_s): loud_from].any()
    assert loud[loud_from + 5:].all()


def test_the_report_has_a_row_per_set_and_split() -> None:
    census = {"windows": 100, "voiced": 60, "overruled_in_turns": 3, "overruled_outside": 7,
              "ends": 10, "ends_vad": 5, "ends_gate": 9, "inside_vad": 1, "inside_gate": 4}
    text = markdown({"machine": {"cpu": "x", "cores": 2, "git_commit": "abc"}, "gate": {},
                     "rows": [{"set": "noisy10", "split": "test", "census": census}]})
    assert "| noisy10 | test | 60 of 100 | 3 | 7 | 5 / 9 of 10 | 1 / 4 |" in text
