"""The WER comparison's report on literal figures, and its refusal of a directory without flux."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import wer_baseline


def row(wer: float, errors: int, cut: float) -> dict[str, float]:
    return {"wer": wer, "errors": errors, "words": 1000, "false_cutoffs": cut}


def test_the_table_gives_both_engines_and_the_change_in_points() -> None:
    data = {"baseline": "d99c995", "current": "abc1234",
            "sets": {"synthetic": {"baseline": row(0.094, 94, 0.15),
                                   "current": row(0.1, 100, 0.173)}}}
    text = wer_baseline.markdown(data)
    assert "| synthetic | 9.40% (94/1000) | 10.00% (100/1000) | +0.60 points | 15.0% / 17.3% |" \
        in text


def test_a_baseline_that_is_not_a_checkout_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="holds no flux_cli checkout"):
        wer_baseline.main(["--baseline", str(tmp_path)])
