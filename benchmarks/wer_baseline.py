"""``python -m benchmarks.wer_baseline --baseline DIR``: is this engine's WER worse than another
commit's, on every held-out set, on this machine?

Issue 13's target: "WER not worse than today on any set". Figures from two machines do not
compare (the corpus's measured labels and the int8 kernels depend on the CPU), so this serves
the baseline checkout's engine (``git worktree add DIR <commit>``) and this checkout's, one after
the other, each as ``flux serve`` with one worker, and streams every held-out set of
``benchmarks.turns`` through this checkout's CLI at ``--fast`` (decisions are in audio time, so
pacing changes nothing). WER is over the EndOfTurn transcripts (``scoring.hypothesis``), exactly
as ``turns.md`` computes it; false cut-offs and EOT p50 come along for context.

Writes ``results/wer_baseline.json`` and ``.md`` (~25 min per engine on 2 cores).
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks import report, scoring, turns
from benchmarks.run import engine_pass, log
from benchmarks.servers import EngineServer

RESULTS = Path(__file__).with_name("results")
HERE = Path(__file__).resolve().parent.parent


def commit_of(root: Path) -> str:
    done = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
                          capture_output=True, text=True, check=False)
    return done.stdout.strip() or "?"


def require_checkout(root: Path) -> None:
    """Stop with one line unless ``root`` is a checkout whose engine can be served."""
    if not (root / "flux_cli" / "__main__.py").exists():
        raise SystemExit(f"{root} holds no flux_cli checkout")


def measure(root: Path | None, sets: Sequence[str], work: Path,
            serve_args: Sequence[str] = ()) -> dict[str, Any]:
    """Every set through the engine of ``root`` (None: this checkout's), served with
    ``serve_args``."""
    rows: dict[str, Any] = {}
    tag = "baseline" if root is not None else "current"
    with EngineServer(work / f"{tag}-serve.log", tuple(serve_args), root=root) as server:
        for name in sets:
            calls = turns.calls_of(name)
            options = {"sample_rate": "8000", "encoding": "mulaw"} if name == "tel8k" else {}
            result = engine_pass(server, calls, work, f"{tag}-{name}", options,
                                 scoring.DEFAULT_SLACK)
            rate, errors, words = result.wer
            rows[name] = {"wer": rate, "errors": errors, "words": words,
                          "false_cutoffs": result.score.false_cutoff_rate,
                          "eot_p50": scoring.percentile(result.score.latencies, 50),
                          "failures": result.failures}
            log(f"{tag} {name}: WER {rate:.2%} ({errors}/{words})")
    return rows


def markdown(data: dict[str, Any]) -> str:
    args = "".join(f" --serve-arg={a}" for a in data.get("serve_args", []))
    out = ["# WER against a baseline engine, on one machine", "",
           f"`python -m benchmarks.wer_baseline --baseline <checkout of {data['baseline']}>{args}` "
           f"at {data['current']}: each engine served by `flux serve` (one worker; this "
           f"checkout's{' with ' + ' '.join(data['serve_args']) if args else ''}), every held-out "
           "set streamed by this checkout's CLI at `--fast`; WER of the EndOfTurn transcripts as "
           "in `turns.md`.", "",
           f"| set | WER {data['baseline']} | WER {data['current']} | change | false cut-offs "
           f"{data['baseline']} / {data['current']} |",
           "|---|---|---|---|---|"]
    for name, row in data["sets"].items():
        b, c = row["baseline"], row["current"]
        out.append(f"| {name} | {b['wer']:.2%} ({b['errors']}/{b['words']}) | "
                   f"{c['wer']:.2%} ({c['errors']}/{c['words']}) | "
                   f"{(c['wer'] - b['wer']) * 100:+.2f} points | "
                   f"{b['false_cutoffs']:.1%} / {c['false_cutoffs']:.1%} |")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.wer_baseline")
    p.add_argument("--baseline", type=Path, required=True,
                   help="a checkout of the baseline commit (git worktree add DIR COMMIT)")
    p.add_argument("--sets", default=",".join(turns.TEST_SETS))
    p.add_argument("--serve-arg", action="append", default=[], metavar="ARG",
                   help="an option for this checkout's `flux serve` (e.g. --no-voice-change)")
    p.add_argument("--results-dir", type=Path, default=RESULTS)
    p.add_argument("--out", default="wer_baseline", help="results file stem")
    args = p.parse_args(argv)
    require_checkout(args.baseline)
    sets = [s for s in args.sets.split(",") if s]
    with tempfile.TemporaryDirectory(prefix="wer-baseline-") as tmp:
        baseline = measure(args.baseline.resolve(), sets, Path(tmp))
        current = measure(None, sets, Path(tmp), args.serve_arg)
    data = {"machine": report.machine_info(), "baseline": commit_of(args.baseline),
            "current": commit_of(HERE), "serve_args": args.serve_arg,
            "sets": {name: {"baseline": baseline[name], "current": current[name]}
                     for name in sets}}
    report.write_results(args.results_dir, args.out, data, markdown(data))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
