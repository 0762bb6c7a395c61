"""``python -m benchmarks.noise_seeds``: how far each held-out set's figures move with noise no
one can hear, and which differences between two engines are larger than that.

Why: decisions near a threshold flip with one bit of noise (stop 36, ``docs/TURNS.md``: the
``real`` train calls gave 28, 30 and 27 false cut-offs of 184 as they are and with white noise
at -90 dBFS under two seeds). A change that moves a figure by less than that is not a gain, and
a target met on one draw may be missed on the next. So every held-out set is streamed end to
end exactly as ``benchmarks.turns`` streams it (the real CLI at ``--fast`` to ``flux serve``),
once as committed (seed 0) and once per further seed with white noise added at ``--level``
dBFS (-90: about one step of 16-bit PCM). The noise is the same for a call and seed on any
machine (the generator is seeded by the seed and the call's name).

Reports each figure per seed and the issue's targets per seed. ``--engine DIR`` serves another
checkout's engine (``git worktree add DIR COMMIT``) on the same copies; ``--compare A B`` sets
two such runs side by side, and a difference counts as beyond the noise only where the two
engines' ranges over the seeds do not overlap; ``--merge`` writes one engine's runs over other
sets or seeds (made apart, or a draw added later) as one run.

Writes ``results/noise_seeds.json`` and ``.md`` (``--out``); ~23 min per seed for every held-out
set (112 min of audio) on 2 cores.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
from numpy.typing import NDArray

from benchmarks import report, scoring, turns
from benchmarks.corpus import Call
from benchmarks.run import RESULTS_DIR, log
from benchmarks.servers import EngineServer
from benchmarks.wer_baseline import HERE, commit_of, require_checkout

# The figures compared, each with how it prints and which way is better.
FIGURES: dict[str, tuple[str, int]] = {
    "false_cutoff_rate": ("false cut-offs", -1), "missed_rate": ("missed ends", -1),
    "eot_p50": ("EOT p50", -1), "eot_p90": ("EOT p90", -1), "wer": ("WER", -1),
    "changes_rate": ("speaker changes ended", 1)}


def with_noise(audio: NDArray[Any], seed: int, key: str, level_dbfs: float) -> NDArray[Any]:
    """``audio`` plus white noise at ``level_dbfs`` (RMS, full scale 1.0); seed 0 adds none.
    The same (seed, key) gives the same noise anywhere."""
    if seed == 0:
        return audio
    rng = np.random.default_rng([seed, zlib.crc32(key.encode())])
    noise = rng.normal(0.0, 10 ** (level_dbfs / 20), audio.shape)
    return np.asarray(audio + noise, dtype=audio.dtype)


def noisy_copy(call: Call, seed: int, level_dbfs: float, folder: Path) -> Call:
    """The call as committed (seed 0) or a 16-bit copy of it with noise, in ``folder``."""
    if seed == 0:
        return call
    audio, rate = sf.read(call.path, dtype="float32", always_2d=False)
    path = folder / call.path.name
    sf.write(path, np.clip(with_noise(audio, seed, call.name, level_dbfs), -1.0, 1.0), rate,
             subtype="PCM_16")
    return dataclasses.replace(call, path=path)


def figures(row: dict[str, Any]) -> dict[str, float | None]:
    """The compared figures of one ``turns.end_to_end`` row."""
    return {"false_cutoff_rate": row["false_cutoff_rate"], "missed_rate": row["missed_rate"],
            "eot_p50": row["eot_p50"], "eot_p90": row["eot_p90"], "wer": row["wer"],
            "changes_rate": row["speaker_changes"]["rate"]}


def value_range(values: Sequence[float | None]) -> tuple[float, float] | None:
    """Lowest and highest over the seeds (None where a figure does not apply)."""
    known = [v for v in values if v is not None]
    return (min(known), max(known)) if known else None


def beyond_noise(current: Sequence[float | None], baseline: Sequence[float | None],
                 better: int) -> str:
    """"better", "worse" or "within noise": the current engine's values over the seeds against
    the baseline's; only ranges that do not overlap count."""
    a, b = value_range(current), value_range(baseline)
    if a is None or b is None:
        return "-"
    if a[1] < b[0]:
        return "better" if better < 0 else "worse"
    if a[0] > b[1]:
        return "worse" if better < 0 else "better"
    return "within noise"


def engine_over_seeds(root: Path | None, sets: Sequence[str], seeds: Sequence[int],
                      level_dbfs: float, work: Path, slack: float) -> dict[str, Any]:
    """Per seed: every set end to end through the engine of ``root`` (None: this checkout),
    and the targets of ``benchmarks.turns`` on those rows."""
    tag = "other" if root is not None else "this"
    out: dict[str, Any] = {}
    with EngineServer(work / f"{tag}-serve.log", root=root) as server:
        for seed in seeds:
            def calls_for(name: str, seed: int = seed) -> list[Call]:
                folder = work / f"seed{seed}" / name
                folder.mkdir(parents=True, exist_ok=True)
                return [noisy_copy(c, seed, level_dbfs, folder) for c in turns.calls_of(name)]

            rows = turns.end_to_end(server, work, slack, sets, calls_for, f"{tag}-s{seed}-")
            out[str(seed)] = {"e2e": rows, "targets": turns.targets(rows)}
            log(f"{tag} seed {seed}: " + ", ".join(
                f"{n} cut {r['pauses_cut']}/{r['pauses']} WER {r['wer']:.2%}"
                for n, r in rows.items()))
    return out


def _cell(key: str, v: float | None) -> str:
    if v is None:
        return "-"
    return f"{1000 * v:.0f}" if key.startswith("eot_") else f"{100 * v:.1f}"


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.1f}%"


def _unit(key: str) -> str:
    return " (ms)" if key.startswith("eot_") else " (%)"


def per_seed_table(run: dict[str, Any], sets: Sequence[str]) -> list[str]:
    """A set per row, each figure as its values over the seeds."""
    seeds = list(run)
    keys = [k for k in FIGURES if any(
        figures(run[s]["e2e"][n])[k] is not None for s in seeds for n in sets)]
    lines = ["| set | pauses cut | " + " | ".join(FIGURES[k][0] + _unit(k) for k in keys)
             + " |", "|---" * (len(keys) + 2) + "|"]
    for name in sets:
        rows = [run[s]["e2e"][name] for s in seeds]
        cuts = " · ".join(str(r["pauses_cut"]) for r in rows) + f" of {rows[0]['pauses']}"
        cells = [" · ".join(_cell(k, figures(r)[k]) for r in rows) for k in keys]
        lines.append(f"| {name} | {cuts} | " + " | ".join(cells) + " |")
    return lines


def targets_table(run: dict[str, Any]) -> list[str]:
    """The issue's targets per seed: the worst one-speaker family and the two-party calls."""
    lines = ["| seed | worst family | its false cut-offs / p50 / p90 / missed | families "
             "meeting all | two-party changes ended ≤ 600 ms | two-party false cut-offs |",
             "|---|---|---|---|---|---|"]
    for seed, r in run.items():
        t = r["targets"]
        fam = t["families"]
        w = fam.get(t["worst"], {})
        two = t["two_party"]
        worst = (f"{_pct(w.get('cut'))} / {_cell('eot_p50', w.get('p50'))} / "
                 f"{_cell('eot_p90', w.get('p90'))} ms / {_pct(w.get('missed'))}")
        lines.append(f"| {seed} | {t['worst']} | {worst} | "
                     f"{sum(f['met'] for f in fam.values())} of {len(fam)} | "
                     f"{_pct(two['changes_rate'])} | {_pct(two['cut'])} |")
    return lines


def compare_rows(current: dict[str, Any], baseline: dict[str, Any],
                 sets: Sequence[str]) -> list[dict[str, Any]]:
    """Per set and figure: the baseline's values over the seeds, the current ones, the verdict."""
    seeds = list(current)
    rows = []
    for name in sets:
        for k, (_, better) in FIGURES.items():
            cur = [figures(current[s]["e2e"][name])[k] for s in seeds]
            base = [figures(baseline[s]["e2e"][name])[k] for s in seeds]
            if all(v is None for v in cur + base):
                continue
            rows.append({"set": name, "figure": k, "baseline": base, "current": cur,
                         "verdict": beyond_noise(cur, base, better)})
    return rows


def compare_table(rows: list[dict[str, Any]]) -> list[str]:
    lines = ["| set | figure | baseline | current | verdict |", "|---|---|---|---|---|"]
    for r in rows:
        k = r["figure"]
        lines.append(f"| {r['set']} | {FIGURES[k][0]}{_unit(k)} | "
                     f"{' · '.join(_cell(k, v) for v in r['baseline'])} | "
                     f"{' · '.join(_cell(k, v) for v in r['current'])} | {r['verdict']} |")
    return lines


def markdown(data: dict[str, Any]) -> str:
    """One engine's figures and targets over the seeds."""
    sets, seeds = data["sets"], data["seeds"]
    engine = f" --engine <checkout of {data['commit']}>" if data["engine"] else ""
    return "\n".join([
        f"# The held-out sets over noise seeds ({data['level_dbfs']:.0f} dBFS)", "",
        f"`python -m benchmarks.noise_seeds --sets {','.join(sets)} --seeds "
        f"{','.join(map(str, seeds))}{engine}`: the engine of {data['commit']} on "
        f"{data['machine']['cpu']}, each set streamed end to end as `benchmarks.turns` streams "
        f"it, seed 0 as committed and each other seed with white noise at "
        f"{data['level_dbfs']:.0f} dBFS (one step of 16-bit PCM). Each cell gives the seeds' "
        "values in order (seed " + " · ".join(map(str, seeds)) + ").", "",
        *per_seed_table(data["run"], sets), "", failures_line(data["run"]), "",
        "## The targets per seed", "", *targets_table(data["run"]), ""])


def failures_line(run: dict[str, Any]) -> str:
    """Streams that did not end cleanly count in no figure: say so if there were any."""
    failed = [f"seed {seed}: {f}" for seed, r in run.items()
              for row in r["e2e"].values() for f in row.get("failures", [])]
    if not failed:
        return "Every stream of every seed ended cleanly (exit 0)."
    return f"{len(failed)} streams failed: " + "; ".join(failed)


def merged(paths: Sequence[Path]) -> dict[str, Any]:
    """One engine's runs over other sets or other seeds (same commit and level) read as one
    run; together they must hold every set under every seed, each once."""
    runs = [json.loads(path.read_text()) for path in paths]
    first = runs[0]
    if any((r["commit"], r["level_dbfs"]) != (first["commit"], first["level_dbfs"])
           for r in runs[1:]):
        raise SystemExit("runs merged into one must share the commit and the noise level")
    sets = list(dict.fromkeys(name for r in runs for name in r["sets"]))
    seeds = sorted({int(seed) for r in runs for seed in r["seeds"]})
    cells: dict[tuple[str, str], Any] = {}
    for r in runs:
        for seed, data in r["run"].items():
            for name, row in data["e2e"].items():
                if (seed, name) in cells:
                    raise SystemExit(f"{name} under seed {seed} is in more than one run")
                cells[(seed, name)] = row
    missing = [f"{name} under seed {seed}" for seed in seeds for name in sets
               if (str(seed), name) not in cells]
    if missing:
        raise SystemExit(f"the runs lack {', '.join(missing)}")
    run = {str(seed): {"e2e": {name: cells[(str(seed), name)] for name in sets}}
           for seed in seeds}
    for r in run.values():
        r["targets"] = turns.targets(r["e2e"])
    return {**first, "sets": sets, "seeds": seeds, "run": run}


def comparison(baseline: dict[str, Any], current: dict[str, Any]
               ) -> tuple[list[dict[str, Any]], str]:
    """Two engines' runs over the same seeds, set by set: the rows and their table."""
    if (baseline["seeds"], baseline["level_dbfs"]) != (current["seeds"], current["level_dbfs"]):
        raise SystemExit("the two runs were made with different seeds or noise levels")
    sets = [s for s in current["sets"] if s in baseline["sets"]]
    if not sets:
        raise SystemExit("the two runs share no set")
    rows = compare_rows(current["run"], baseline["run"], sets)
    return rows, "\n".join([
        f"# {current['commit']} against {baseline['commit']} over noise seeds", "",
        f"`python -m benchmarks.noise_seeds --compare <{baseline['commit']}'s run> "
        f"<{current['commit']}'s run>`: seeds {', '.join(map(str, current['seeds']))} at "
        f"{current['level_dbfs']:.0f} dBFS, each cell the seeds' values in order. A verdict "
        "other than \"within noise\" only where the two engines' ranges over the seeds do not "
        "overlap.", "", *compare_table(rows), ""])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.noise_seeds")
    p.add_argument("--sets", default=",".join(turns.TEST_SETS))
    p.add_argument("--seeds", default="0,1,2", help="0 is the calls as committed")
    p.add_argument("--level", type=float, default=-90.0, help="the noise's RMS in dBFS")
    p.add_argument("--engine", type=Path, default=None,
                   help="serve another checkout's engine (git worktree add DIR COMMIT)")
    p.add_argument("--compare", nargs=2, metavar=("BASELINE", "CURRENT"),
                   help="compare two engines' earlier runs instead of streaming (each a JSON "
                        "file, or several of one engine's over other sets or seeds, "
                        "comma-separated)")
    p.add_argument("--merge", metavar="RUNS",
                   help="write one engine's runs over other sets or seeds (JSON files, "
                        "comma-separated) as one run instead of streaming")
    p.add_argument("--slack", type=float, default=scoring.DEFAULT_SLACK)
    p.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    p.add_argument("--out", default="noise_seeds", help="results file stem")
    args = p.parse_args(argv)
    if args.merge:
        data = merged([Path(f) for f in args.merge.split(",") if f])
        report.write_results(args.results_dir, args.out, data, markdown(data))
        return 0
    if args.compare:
        base, cur = (merged([Path(f) for f in files.split(",") if f]) for files in args.compare)
        rows, text = comparison(base, cur)
        report.write_results(args.results_dir, args.out,
                             {"baseline": base["commit"], "current": cur["commit"],
                              "seeds": cur["seeds"], "level_dbfs": cur["level_dbfs"],
                              "rows": rows}, text)
        return 0
    sets = [s for s in args.sets.split(",") if s]
    unknown = [s for s in sets if s not in turns.TEST_SETS]
    if unknown:
        raise SystemExit(f"unknown set(s) {', '.join(unknown)}: choose from "
                         f"{', '.join(turns.TEST_SETS)}")
    seeds = [int(s) for s in args.seeds.split(",") if s]
    if args.engine is not None:
        require_checkout(args.engine)
    for name in sets:
        turns.calls_of(name)
    root = args.engine.resolve() if args.engine is not None else None
    with tempfile.TemporaryDirectory(prefix="noise-seeds-") as tmp:
        run = engine_over_seeds(root, sets, seeds, args.level, Path(tmp), args.slack)
    data = {"machine": report.machine_info(), "engine": str(args.engine or ""),
            "commit": commit_of(root or HERE), "sets": sets, "seeds": seeds,
            "level_dbfs": args.level, "run": run}
    report.write_results(args.results_dir, args.out, data, markdown(data))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
