"""``python -m benchmarks.load``: how many real-time streams ``flux serve`` carries, by workers.

For each ``--workers`` setting a real ``flux serve`` starts; then, level by level, N client
streams send different calls of the corpus at real time through the client library
(``benchmarks.streams.stream_many``), all at once. Per level it reports the end-of-turn wall
delay p50/p90 (from sending a turn's last speech frame to receiving its EndOfTurn, as
``benchmarks.run`` measures it), the ratio to the same server's one-stream figures,
refusals (429s), server CPU per stream (cores), server memory (all processes), how the
streams spread over the workers (from ``/v1/status``), and the load average: the machine is
shared, so compare ratios measured in one run, not absolute figures across runs.

Results go to ``benchmarks/results/load.json`` and ``load.md``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import psutil

from benchmarks import corpus, report, scoring
from benchmarks.servers import free_port
from benchmarks.streams import stream_many

RESULTS = Path(__file__).with_name("results")
READY_TIMEOUT_S = 240.0


def log(text: str) -> None:
    print(f"[load {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


class Served:
    """``flux serve --workers W`` on a free loopback port, with every process's CPU and RSS."""

    def __init__(self, workers: int, max_streams: int, log_path: Path) -> None:
        self.port = free_port()
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "flux_cli", "serve", "--port", str(self.port),
                 "--workers", str(workers), "--max-streams", str(max_streams)],
                stdout=subprocess.DEVNULL, stderr=err,
                env={**os.environ, "HF_HUB_OFFLINE": "1"})
        self.ps = psutil.Process(self.proc.pid)
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            status = self.status()
            if status and all(w["state"] == "ready" for w in status["workers_detail"]):
                return
            if self.proc.poll() is not None:
                raise RuntimeError(f"flux serve exited {self.proc.returncode}")
            time.sleep(0.3)
        raise RuntimeError("flux serve not ready in time")

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/v2/listen"

    def status(self) -> dict[str, Any] | None:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
            conn.request("GET", "/v1/status")
            data: dict[str, Any] = json.loads(conn.getresponse().read())
            conn.close()
            return data
        except (OSError, ValueError):
            return None

    def processes(self) -> list[psutil.Process]:
        return [self.ps, *self.ps.children(recursive=True)]

    def cpu_seconds(self) -> float:
        total = 0.0
        for p in self.processes():
            try:
                t = p.cpu_times()
                total += t.user + t.system
            except psutil.NoSuchProcess:
                pass
        return total

    def rss(self) -> int:
        return sum(p.memory_info().rss for p in self.processes())

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


class SpreadWatcher(threading.Thread):
    """Polls ``/v1/status`` and keeps the most streams each worker held at once."""

    def __init__(self, served: Served) -> None:
        super().__init__(daemon=True)
        self.served = served
        self.peak: dict[int, int] = {}
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.5):
            status = self.served.status()
            for w in (status or {}).get("workers_detail", []):
                self.peak[w["index"]] = max(self.peak.get(w["index"], 0), w["active_streams"])


def run_level(served: Served, clips: list[corpus.Call], n: int, slack: float,
              query: str, rounds: int = 1) -> dict[str, Any]:
    """N streams at once; ``rounds`` times over different clips (more turns for a baseline)."""
    chosen = [clips[i % len(clips)] for i in range(n * rounds)]
    load_before = os.getloadavg()
    watcher = SpreadWatcher(served)
    watcher.start()
    cpu0, t0 = served.cpu_seconds(), time.monotonic()
    runs = []
    for r in range(rounds):
        runs += stream_many(served.url, [c.path for c in chosen[r * n:(r + 1) * n]], query)
    cpu, wall = served.cpu_seconds() - cpu0, time.monotonic() - t0
    n_streams = n
    watcher.stop.set()
    watcher.join()
    delays: list[float] = []
    errors = [r.error for r in runs if r.error]
    for clip, run in zip(chosen, runs, strict=True):
        if not run.error:
            delays += scoring.wall_latencies(clip.turns, run.events, run.sent_at, slack)
    refusals = sum(1 for e in errors if "429" in e)
    ok = n_streams - len(errors) / rounds
    return {
        "streams": n_streams, "rounds": rounds, "accepted": ok, "refusals": refusals,
        "other_errors": [e for e in errors if "429" not in e][:3],
        "turns": len(delays),
        "wall_p50": scoring.percentile(delays, 50), "wall_p90": scoring.percentile(delays, 90),
        "server_cpu_cores": cpu / wall if wall else None,
        "cpu_per_stream_cores": cpu / wall / ok if wall and ok else None,
        "server_rss_mb": served.rss() / 2**20,
        "per_worker_peak_streams": [watcher.peak.get(i, 0) for i in sorted(watcher.peak)],
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in os.getloadavg()],
        "wall_s": wall,
    }


def run_workers(workers: int, clips: list[corpus.Call], levels: list[int], max_streams: int,
                slack: float, work: Path, baseline_rounds: int) -> dict[str, Any]:
    from flux_cli.protocol import StreamParams

    query = StreamParams().to_query()
    log(f"--workers {workers}: starting flux serve")
    served = Served(workers, max_streams, work / f"serve-w{workers}.log")
    out: list[dict[str, Any]] = []
    try:
        idle_rss = served.rss() / 2**20
        for n in levels:
            log(f"--workers {workers}: {n} stream(s) of {clips[0].duration:.0f} s")
            level = run_level(served, clips, n, slack, query,
                              rounds=baseline_rounds if n == 1 else 1)
            base = out[0] if out else level
            for key in ("wall_p50", "wall_p90"):
                level[f"{key}_ratio"] = (level[key] / base[key]
                                         if level[key] and base[key] else None)
            out.append(level)
            log(f"  p50 {level['wall_p50']}, p90 {level['wall_p90']}, "
                f"refusals {level['refusals']}, spread {level['per_worker_peak_streams']}")
    finally:
        served.close()
    return {"workers": workers, "idle_rss_mb": idle_rss, "levels": out}


def within(level: dict[str, Any], limit: float) -> bool:
    p50, p90 = level["wall_p50_ratio"] or 99, level["wall_p90_ratio"] or 99
    return not level["other_errors"] and level["refusals"] == 0 and max(p50, p90) <= limit


def table(results: dict[str, Any]) -> str:
    lines = [
        "| workers | streams | turns | EOT p50 | p90 | p50 / 1 stream | p90 / 1 stream | "
        "refusals | CPU per stream | server RSS | streams per worker (peak) | load avg |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for run in results["runs"]:
        for lv in run["levels"]:
            def ms(x: float | None) -> str:
                return f"{x * 1000:.0f} ms" if x is not None else "-"

            def ratio(x: float | None) -> str:
                return f"{x:.2f}x" if x is not None else "-"

            cpu = lv["cpu_per_stream_cores"]
            lines.append(
                f"| {run['workers']} | {lv['streams']} | {lv['turns']} | {ms(lv['wall_p50'])} | "
                f"{ms(lv['wall_p90'])} | {ratio(lv['wall_p50_ratio'])} | "
                f"{ratio(lv['wall_p90_ratio'])} | {lv['refusals']} | "
                f"{'-' if cpu is None else f'{cpu:.3f} cores'} | {lv['server_rss_mb']:.0f} MB | "
                f"{lv['per_worker_peak_streams']} | {lv['load_before'][0]:.1f} |")
    lines.append("")
    for run in results["runs"]:
        best = max((lv["streams"] for lv in run["levels"] if within(lv, results["limit"])),
                   default=0)
        lines.append(f"- `--workers {run['workers']}`: {best} concurrent real-time streams with "
                     f"both p50 and p90 within {results['limit']}x of one stream "
                     f"({best / results['cores']:.1f} per core); idle RSS "
                     f"{run['idle_rss_mb']:.0f} MB.")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.load", description=__doc__)
    p.add_argument("--workers", default="1,2", help="comma-separated worker counts")
    p.add_argument("--levels", default="1,2,4,6,8,10,12", help="concurrent stream counts")
    p.add_argument("--clip-seconds", type=float, default=60.0)
    p.add_argument("--max-streams", type=int, default=64,
                   help="the server's --max-streams (high: measure, do not refuse)")
    p.add_argument("--limit", type=float, default=1.25, help="allowed ratio to one stream")
    p.add_argument("--baseline-rounds", type=int, default=3,
                   help="one stream is run this many times over different clips")
    p.add_argument("--slack", type=float, default=scoring.DEFAULT_SLACK)
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    levels = [int(x) for x in args.levels.split(",")]
    calls = corpus.build("full")
    work = corpus.DEFAULT_CACHE / corpus.cache_name(corpus.DEFAULT_SEED, "full")
    clips = [corpus.clip(c, args.clip_seconds, work) for c in calls]
    started = time.time()
    results: dict[str, Any] = {
        "command": "python -m benchmarks.load " + " ".join(argv or sys.argv[1:]),
        "limit": args.limit, "clip_s": args.clip_seconds, "cores": psutil.cpu_count(),
        "machine": f"{platform.processor() or platform.machine()} ({report.vector_units()}), "
                   f"{psutil.cpu_count()} cores, "
                   f"Python {platform.python_version()}",
        "note": "machine shared with other agents: compare ratios within one run",
        "load_at_start": [round(x, 2) for x in os.getloadavg()],
        "runs": [run_workers(int(w), clips, levels, args.max_streams, args.slack, work,
                             args.baseline_rounds)
                 for w in args.workers.split(",")],
    }
    results["load_at_end"] = [round(x, 2) for x in os.getloadavg()]
    results["minutes"] = round((time.time() - started) / 60, 1)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "load.json").write_text(json.dumps(results, indent=1) + "\n")
    text = (f"# flux serve under load\n\n`{results['command']}` on {results['machine']}; "
            f"{args.clip_seconds:.0f} s clips of the corpus, real time; load average at start "
            f"{results['load_at_start']}, at end {results['load_at_end']} "
            f"({results['note']}). One stream is measured over {args.baseline_rounds} clips in "
            "turn, for enough turns.\n\n" + table(results))
    (args.out / "load.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
