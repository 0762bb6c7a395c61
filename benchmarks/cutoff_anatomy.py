"""``python -m benchmarks.cutoff_anatomy``: what the end-of-turn signals said where the engine
cut a speaker off.

Issue 13 asks, where a target is not reached, what limits it. For every false cut-off of the
committed model on the one-voice families' held-out pauses (the replay of ``eot_train``, on the
evidence the engine recorded at each pause's decision point), this asks each signal the engine
has, or has tried, whether the words so far finish a turn:

- **words**: Whisper's transcript ends a sentence (``endings.ending_kind``: a period, a
  question, a closing phrase or a short answer; not a continuation word, a verb waiting for its
  object, a number, a comma, a discourse word, no punctuation);
- **Smart Turn** v3.2 ≥ 0.5 (Pipecat's own threshold for "complete");
- **text model** ≥ 0.5 (``models/text_eou.py``, trained on packaged text, weight 0 in the
  engine);
- **Whisper's sentence end** ≥ 0.5 (P of `.` or `?` after the words, weight 0 in the engine).

The same questions are asked at every turn's real end, so a reader can see whether "every
signal says finished" tells the two apart. Two operating points: the default ``eot_threshold``
0.7, and the highest threshold whose median end-of-turn latency is within the target's 500 ms.

Reads only the ``eot_train collect`` cache (test splits; no audio, no model but the text
model's hashed n-grams); writes ``results/cutoff_anatomy.json`` and ``.md`` in a few seconds.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from benchmarks import eot_train, report
from flux_cli.engine.endings import ending_kind
from flux_cli.engine.eot_model import EotModel, default_model
from flux_cli.engine.models import text_eou

FAMILIES = ("real", "neural", "synthetic", *eot_train.NEVER_TRAINED)
DEFAULT_THRESHOLD = 0.7
TARGET_P50_S = 0.5
FINISHED_KINDS = frozenset({"period", "question", "closing", "short_answer"})
RESULTS = Path(__file__).with_name("results")


def signals(text_model: text_eou.TextEndOfUtterance) -> dict[str, Callable[[eot_train.Pause],
                                                                          bool]]:
    """Each signal's "the words so far finish a turn", as a test of one judged pause."""
    return {
        "words": lambda p: ending_kind(p.record.transcript) in FINISHED_KINDS,
        "smart_turn": lambda p: p.record.smart_turn >= 0.5,
        "text_model": lambda p: text_model.probability(p.record.transcript) >= 0.5,
        "whisper_end": lambda p: (p.record.sentence_end or 0.0) >= 0.5,
    }


def target_threshold(turns: list[list[eot_train.Pause]], model: EotModel) -> float | None:
    """The highest threshold of the trade-off's sweep whose replay p50 is ≤ 500 ms."""
    ok = [thr for thr, _cut, p50 in eot_train.threshold_curve(turns, model)
          if p50 is not None and p50 <= TARGET_P50_S + 1e-9]
    return max(ok) if ok else None


def tally(pauses: Sequence[eot_train.Pause],
          tests: dict[str, Callable[[eot_train.Pause], bool]]) -> dict[str, int]:
    """How many of ``pauses`` each signal calls finished, and how many every signal does
    (each signal asked once a pause)."""
    said = [{name: test(p) for name, test in tests.items()} for p in pauses]
    out = {name: sum(s[name] for s in said) for name in tests}
    out["words_and_text_model"] = sum(s["words"] and s["text_model"] for s in said)
    out["all"] = sum(all(s.values()) for s in said)
    out["n"] = len(pauses)
    return out


def anatomy(turns: list[list[eot_train.Pause]], model: EotModel, threshold: float,
            tests: dict[str, Callable[[eot_train.Pause], bool]]) -> dict[str, Any]:
    r = eot_train.replay(turns, eot_train.model_rule(model, threshold))
    ends = [p for turn in turns for p in turn if p.is_end]
    return {"threshold": threshold, **r.summary(), "cut_offs": tally(r.cut_by, tests),
            "turn_ends": tally(ends, tests),
            "open_endings": sorted(ending_kind(p.record.transcript) for p in r.cut_by
                                   if not tests["words"](p))}


def run(families: Sequence[str]) -> dict[str, Any]:
    model = default_model()
    tests = signals(text_eou.default_model())
    rows: dict[str, Any] = {}
    for name in families:
        turns = eot_train.pauses_of(name, "test")
        at_target = target_threshold(turns, model)
        rows[name] = {"default": anatomy(turns, model, DEFAULT_THRESHOLD, tests),
                      "target": None if at_target is None else anatomy(
                          turns, model, at_target, tests)}
    return rows


def _pct(part: int, whole: int) -> str:
    return f"{part} ({100 * part / whole:.0f}%)" if whole else "-"


def _table(rows: dict[str, Any], point: str) -> list[str]:
    lines = ["| family | threshold | false cut-offs | EOT p50 | cut-offs after words that end "
             "a sentence | and the text model agrees | every signal | left if every other "
             "cut-off were held | turn ends that would be held too | every signal, at the "
             "turn ends |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for name, row in rows.items():
        a = row[point]
        if a is None:
            lines.append(f"| {name} | none reaches p50 ≤ 500 ms | | | | | | | | |")
            continue
        c, e = a["cut_offs"], a["turn_ends"]
        left = c["words_and_text_model"] / a["pauses"]
        lines.append(
            f"| {name} | {a['threshold']} | {a['false_cutoffs']:.1%} ({a['cut']}/{a['pauses']}) "
            f"| {a['p50'] * 1000:.0f} ms | {_pct(c['words'], c['n'])} | "
            f"{_pct(c['words_and_text_model'], c['n'])} | {_pct(c['all'], c['n'])} | "
            f"{left:.1%} | {_pct(e['n'] - e['words_and_text_model'], e['n'])} | "
            f"{_pct(e['all'], e['n'])} |")
    return lines


def markdown(data: dict[str, Any]) -> str:
    rows = data["families"]
    out = ["# What the signals said where the engine cut a speaker off", "",
           "`python -m benchmarks.cutoff_anatomy`: the replay of the committed end-of-turn model "
           "on the one-voice families' held-out pauses (`eot_train`'s evidence cache, as in "
           "`turns.md`'s replay table). For each false cut-off, whether each signal called the "
           "words so far finished: Whisper's transcript ends a sentence (`words`), Smart Turn "
           "≥ 0.5, the text model ≥ 0.5, Whisper's sentence-end probability ≥ 0.5 (the last "
           "two weigh 0 in the engine). \"Every signal\" is all four. \"Left if every other "
           "cut-off were held\": the false cut-off rate if a perfect language signal held "
           "every cut-off whose words Whisper's ending or the text model calls unfinished; the "
           "next column, how many real turn ends the same test would hold (each held end "
           "waits for the silence alone). The last column asks the four at every turn's real "
           "end.", "",
           "## At the default (`eot_threshold` 0.7)", "", *_table(rows, "default"), "",
           "## At the target's latency (the highest threshold with EOT p50 ≤ 500 ms)", "",
           *_table(rows, "target"), ""]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.cutoff_anatomy")
    p.add_argument("--families", default=",".join(FAMILIES))
    p.add_argument("--results-dir", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    data = {"machine": report.machine_info(), "families": run(args.families.split(","))}
    report.write_results(args.results_dir, "cutoff_anatomy", data, markdown(data))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
