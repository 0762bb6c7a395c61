"""The refit check's scoring and table on literal pauses (no models, no corpus)."""

from __future__ import annotations

import math

from benchmarks import eot_refit
from benchmarks.eot_train import Pause, PauseRecord
from flux_cli.engine.eot_model import EotModel

MODEL = EotModel({"bias": -2.0, "silence_s": 4.0, "kind_period": 1.0, "kind_closing": 1.0,
                  "kind_continuation": -3.0})


def pause(speech_end: float, text: str, length: float, window: tuple[float, float] | None,
          label_end: float = 10.0) -> Pause:
    is_end = window is None
    record = PauseRecord(speech_end, speech_end + 0.192, None if is_end else speech_end + length,
                         0.5, text, [], 1.0)
    return Pause(record, is_end, math.inf if is_end else length, label_end,
                 [] if window is None else [window])


def test_a_cut_pause_counts_at_the_default_and_at_every_latency_budget() -> None:
    end = pause(5.0, "That is all.", 0, None, 4.95)  # ends 0.3-1.2 s after it, by threshold
    cut = [pause(2.0, "I was thinking.", 1.5, (2.0, 3.5)), end]
    row = eot_refit.scored([cut], MODEL)
    assert row["at_default"]["cut"] == 1 and row["at_default"]["pauses"] == 1
    # "I was thinking." reads as finished at every threshold the sweep tries within 1.5 s
    assert row["cutoffs_within"] == {"500ms": 1.0, "600ms": 1.0, "800ms": 1.0}
    held = [pause(2.0, "I was thinking and", 0.8, (2.0, 2.8)), end]
    assert eot_refit.scored([held], MODEL)["at_default"]["cut"] == 0


def test_the_table_has_a_row_per_set_and_a_column_per_model() -> None:
    turn = [pause(5.0, "That is all.", 0, None, 4.95)]
    results = {"l2": [1.0], "models": {"committed": {}, "refit L2 1": {}},
               "sets": {"real": {"committed": eot_refit.scored([turn], MODEL),
                                 "refit L2 1": eot_refit.scored([turn], MODEL)}}}
    text = eot_refit.markdown(results, {"cpu": "a CPU", "cores": 2, "git_commit": "abc1234"})
    assert "`python -m benchmarks.eot_refit --l2 1`" in text
    assert "| set | committed | refit L2 1 |" in text
    rows = [line for line in text.splitlines() if line.startswith("| real |")]
    assert len(rows) == 1 and rows[0].count("0/0 · ") == 2
