"""``flux --help`` start-up against its floor: ``python -m benchmarks.cli_startup``.

The floor is ``python -c "import typer, rich"`` (what any Typer CLI with Rich pays); the
ratio says what flux adds on top. Runs alternate so machine load hits both alike; prints
the median of each and their ratio (aim: at most 1.3).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path


def wall(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--tree", type=Path, default=Path.cwd(), help="whose flux_cli to run")
    args = parser.parse_args(argv)
    env = {**os.environ, "PYTHONPATH": str(args.tree.resolve())}
    flux = [sys.executable, "-m", "flux_cli", "--help"]
    floor = [sys.executable, "-c", "import typer, rich"]
    wall(flux, env)  # warm the file cache and the bytecode
    times: dict[str, list[float]] = {"flux --help": [], "import typer, rich": []}
    for _ in range(args.runs):
        times["flux --help"].append(wall(flux, env))
        times["import typer, rich"].append(wall(floor, env))
    medians = {name: statistics.median(values) for name, values in times.items()}
    for name, value in medians.items():
        print(f"{name:20s} median {value * 1000:6.1f} ms over {args.runs} runs")
    ratio = medians["flux --help"] / medians["import typer, rich"]
    print(f"ratio {ratio:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
