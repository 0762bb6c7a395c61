"""``flux --help`` start-up against its floor: ``python -m benchmarks.cli_startup``.

The floor is ``python -c "import typer, rich"`` (what any Typer CLI with Rich pays); the
ratio says what flux adds on top. Runs alternate so machine load hits both alike; prints
the median of each and their ratio (aim: at most 1.3).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path


def wall(cmd: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """(wall, CPU) seconds of one run; CPU is steadier than wall on a loaded machine."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(cmd, env=env, cwd=cwd, check=True, stdout=subprocess.DEVNULL)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--tree", type=Path, default=Path.cwd(), help="whose flux_cli to run")
    args = parser.parse_args(argv)
    tree = args.tree.resolve()
    env = {**os.environ, "PYTHONPATH": str(tree)}  # and cwd: ``-m`` puts the cwd first
    flux = [sys.executable, "-m", "flux_cli", "--help"]
    floor = [sys.executable, "-c", "import typer, rich"]
    wall(flux, env, tree)  # warm the file cache and the bytecode
    runs: dict[str, list[tuple[float, float]]] = {"flux --help": [], "import typer, rich": []}
    for _ in range(args.runs):
        runs["flux --help"].append(wall(flux, env, tree))
        runs["import typer, rich"].append(wall(floor, env, tree))
    medians = {
        name: (statistics.median(w for w, _ in values), statistics.median(c for _, c in values))
        for name, values in runs.items()
    }
    for name, (wall_s, cpu_s) in medians.items():
        print(
            f"{name:20s} median wall {wall_s * 1000:6.1f} ms, CPU {cpu_s * 1000:6.1f} ms "
            f"over {args.runs} runs"
        )
    flux_m, floor_m = medians["flux --help"], medians["import typer, rich"]
    print(f"ratio: wall {flux_m[0] / floor_m[0]:.2f}, CPU {flux_m[1] / floor_m[1]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
