"""``python -m benchmarks.eot_refit``: would refitting the end-of-turn model pay today?

The committed model (``flux_cli/engine/eot_model.json``) was fitted once, on the evidence the
engine of its day recorded; the engine has changed since (decoding, the VAD's rules, the phone
path), so the features it computes at a decision point are not quite the ones the model saw.
This fits the same recipe (``eot_train.fit``: every training set's train split, the text
signals left out) on the evidence today's engine records, once per ``--l2``, and replays each
beside the committed model on every held-out test split, the unseen families included:

- at the default ``eot_threshold`` 0.7: false cut-offs, EOT p50 / p90, missed ends;
- at equal latency: the fewest false cut-offs of any threshold (0.5-0.975, the engine's range)
  whose EOT p50 is within 500, 600 and 800 ms (``-``: none is).

Which sets it reads: the fit, the train splits (as ``eot_train fit`` does); the test splits are
only scored, and nothing here writes the model.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks import eot_train, report
from benchmarks.scoring import OperatingPoint, cutoff_at_latency
from benchmarks.turns import TEST_SETS
from flux_cli.engine.eot_model import MODEL_FILE, EotModel

RESULTS = Path(__file__).with_name("results")
THRESHOLD = 0.7
BUDGETS = (0.5, 0.6, 0.8)


def scored(turns: list[list[eot_train.Pause]], model: EotModel) -> dict[str, Any]:
    """One model on one set's pauses: at the default threshold and at equal latency."""
    points = [OperatingPoint(str(thr), cut, p50)
              for thr, cut, p50 in eot_train.threshold_curve(turns, model)]
    within = {}
    for budget in BUDGETS:
        best = cutoff_at_latency(points, budget)
        within[f"{round(budget * 1000)}ms"] = best and round(best.false_cutoff_rate, 3)
    return {"at_default": eot_train.replay(turns, eot_train.model_rule(model, THRESHOLD)).summary(),
            "cutoffs_within": within}


def run(l2s: Sequence[float], sets: Sequence[str] = TEST_SETS) -> dict[str, Any]:
    committed = EotModel.from_json(MODEL_FILE.read_text())
    models = {"committed": committed}
    for l2 in l2s:
        models[f"refit L2 {l2:g}"] = eot_train.fit(eot_train.ALL_SETS,
                                                   exclude=eot_train.TEXT_SIGNALS, l2=l2)
    rows = {}
    for name in sets:
        turns = eot_train.pauses_of(name, "test")
        rows[name] = {label: scored(turns, model) for label, model in models.items()}
    return {"l2": list(l2s), "models": {label: dict(m.weights) for label, m in models.items()},
            "sets": rows}


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x * 100:.1f}%"


def _ms(x: float | None) -> str:
    return "-" if x is None else f"{x * 1000:.0f}"


def markdown(results: dict[str, Any], machine: dict[str, Any]) -> str:
    labels = list(results["models"])
    head = ["# Refitting the end-of-turn model on today's evidence", "",
            f"{report.measured_on(machine)}, `python -m benchmarks.eot_refit --l2 "
            f"{','.join(f'{x:g}' for x in results['l2'])}`: "
            "the committed model against the same recipe fitted on the evidence this engine "
            "records (train splits), replayed on each held-out test split. Per model: at "
            f"`eot_threshold` {THRESHOLD}, false cut-offs (cut / pauses), EOT p50 / p90 (ms), "
            "missed ends; then the fewest false cut-offs at an EOT p50 within 500 / 600 / 800 ms "
            "(any threshold 0.5-0.975; `-`: none reaches it). Nothing here writes the model.", "",
            "| set | " + " | ".join(labels) + " |", "|---|" + "---|" * len(labels)]
    for name, row in results["sets"].items():
        cells = []
        for label in labels:
            d, w = row[label]["at_default"], row[label]["cutoffs_within"]
            cells.append(f"{d['cut']}/{d['pauses']} · {_ms(d['p50'])} / {_ms(d['p90'])} · "
                         f"{d['missed']} missed; " + " / ".join(_pct(v) for v in w.values()))
        head.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(head) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.eot_refit")
    p.add_argument("--l2", default=str(eot_train.L2),
                   help="comma-separated L2 weights to refit with")
    p.add_argument("--results-dir", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    eot_train.collect(TEST_SETS, ["test"])
    eot_train.collect(eot_train.ALL_SETS, ["train"])
    results = run([float(x) for x in args.l2.split(",")])
    machine = report.machine_info()
    report.write_results(args.results_dir, "eot_refit", {"machine": machine, **results},
                         markdown(results, machine))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
