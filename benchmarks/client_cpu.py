"""The client's CPU per stream, this tree against another: ``python -m benchmarks.client_cpu``.

Streams one generated file through the real CLI to the sink server (accepts, discards, says
nothing) twice per tree, alternating trees so machine load hits both alike: ``--fast``
(CPU seconds per audio second: the whole send path, resampling to wire bytes) and
``--speed 1`` (CPU share of one core for one real-time stream); both exclude start-up
(a run on a 0.2 s file, imports and connection included, is subtracted). Prints
medians and the ratio new/old. ``--old DIR`` is a checkout of the tree to compare with
(e.g. ``git worktree add /tmp/old <commit>``).
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

import numpy as np
import soundfile as sf

from benchmarks.servers import SinkServer

RATE = 44100  # a rate that needs resampling, as most files do
TINY_S = 0.2  # a run this short is start-up (imports, connect, close): subtracted


def make_file(path: Path, seconds: float) -> None:
    rng = np.random.default_rng(0)
    t = np.arange(round(seconds * RATE)) / RATE
    audio = 0.2 * np.sin(2 * np.pi * 220 * t) + 0.02 * rng.standard_normal(len(t))
    sf.write(path, np.stack([audio, audio], 1).astype(np.float32), RATE, subtype="PCM_16")


def cpu_of(tree: Path, url: str, wav: Path, extra: list[str]) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of one ``flux transcribe`` run of ``tree``'s code."""
    env = {
        **os.environ,
        "PYTHONPATH": str(tree),
        "HF_HUB_OFFLINE": "1",
    }  # cwd too: -m puts it first
    cmd = [sys.executable, "-m", "flux_cli", "transcribe", str(wav), "--url", url]
    cmd += ["--output", "text", *extra]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    subprocess.run(
        cmd, env=env, cwd=tree, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    wall = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, wall


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", type=Path, required=True, help="the tree to compare with")
    parser.add_argument("--new", type=Path, default=Path.cwd())
    parser.add_argument("--fast-seconds", type=float, default=600.0)
    parser.add_argument("--realtime-seconds", type=float, default=30.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--work", type=Path, default=Path("/tmp/flux-client-cpu"))
    args = parser.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    fast_wav, rt_wav = args.work / "fast.wav", args.work / "realtime.wav"
    tiny_wav = args.work / "tiny.wav"
    make_file(fast_wav, args.fast_seconds)
    make_file(rt_wav, args.realtime_seconds)
    make_file(tiny_wav, TINY_S)
    trees = {"old": args.old.resolve(), "new": args.new.resolve()}
    fast: dict[str, list[float]] = {name: [] for name in trees}
    share: dict[str, list[float]] = {name: [] for name in trees}
    with SinkServer() as sink:
        for _ in range(args.runs):
            for name, tree in trees.items():
                start_cpu, start_wall = cpu_of(tree, sink.url, tiny_wav, ["--fast"])
                cpu, _wall = cpu_of(tree, sink.url, fast_wav, ["--fast"])
                fast[name].append((cpu - start_cpu) / (args.fast_seconds - TINY_S))
                cpu, wall = cpu_of(tree, sink.url, rt_wav, ["--speed", "1"])
                share[name].append((cpu - start_cpu) / (wall - start_wall))
    print("| tree | CPU s per audio s (--fast) | CPU share, one real-time stream |")
    print("|---|---|---|")
    for name in trees:
        print(
            f"| {name} | {statistics.median(fast[name]):.4f} | "
            f"{statistics.median(share[name]):.4f} |"
        )
    ratio_fast = statistics.median(fast["new"]) / statistics.median(fast["old"])
    ratio_rt = statistics.median(share["new"]) / statistics.median(share["old"])
    print(
        f"\nnew/old: --fast {ratio_fast:.3f}, real time {ratio_rt:.3f} "
        f"(medians of {args.runs} runs each)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
