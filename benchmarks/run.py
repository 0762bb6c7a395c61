"""``python -m benchmarks.run``: measure the local engine and the client, print a Markdown table.

Every measure goes through real parts: the engine is ``python -m flux_cli serve`` on a
loopback port, audio goes through the real CLI (``transcribe --fast --jsonl``) or the client
library, and the JSONL logs are scored against labels measured from the synthesized audio.
Results land in ``benchmarks/results/latest.json`` and ``latest.md`` (and ``tradeoff.png``
with ``--sweep``). See ``benchmarks/README.md`` for what each number means.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks import corpus, report, scoring
from benchmarks.corpus import Call
from benchmarks.servers import EngineServer, SinkServer
from benchmarks.streams import cli_command, run_monitored, stream_many

RESULTS_DIR = Path(__file__).with_name("results")


@dataclass
class Mode:
    """How much of everything a run does."""

    name: str
    corpus: str
    eager_calls: int
    levels: tuple[int, ...]
    clip_s: float
    client_minutes: float
    pacing_minutes: float
    sweep_calls: int


MODES = {
    "full": Mode("full", "full", 4, (1, 2, 4, 6), 60.0, 60.0, 10.0, 4),
    "quick": Mode("quick", "quick", 2, (1, 2), 30.0, 5.0, 1.0, 2),
    "smoke": Mode("smoke", "smoke", 0, (), 0.0, 0.0, 0.0, 1),
}
SWEEP = [("eot_threshold", t, {"eot_threshold": t}) for t in
         ("0.5", "0.6", "0.7", "0.8", "0.9")] + \
        [("eot_timeout_ms", t, {"eot_threshold": "1.0", "eot_timeout_ms": t}) for t in
         ("500", "1000", "2000")]


def spread(calls: list[Call], n: int) -> list[Call]:
    """``n`` calls spaced through the corpus, so a subset still mixes voices."""
    n = min(n, len(calls))
    return [calls[i * len(calls) // n] for i in range(n)]


def log(text: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- accuracy


@dataclass
class PassResult:
    """One pass of the engine over some calls at --fast."""

    score: scoring.TurnScore
    eager: scoring.TurnScore
    turn_resumed: int
    wer: tuple[float, int, int]
    triggers: dict[str, int]
    audio_s: float
    wall_s: float
    cpu_s: float
    failures: list[str]
    per_call: list[dict[str, Any]]


def engine_pass(server: EngineServer, calls: list[Call], work: Path, tag: str,
                options: dict[str, str], slack: float) -> PassResult:
    """Stream each call through the CLI at --fast and score its JSONL log."""
    total = scoring.TurnScore()
    eager_total = scoring.TurnScore()
    pairs: list[tuple[str, str]] = []
    triggers: Counter[str] = Counter()
    resumed = 0
    audio = wall = cpu = 0.0
    failures: list[str] = []
    per_call = []
    for call in calls:
        jsonl = work / f"{tag}-{call.name}.jsonl"
        cpu0 = server.cpu_seconds()
        run = run_monitored(cli_command(server.url, call.path, jsonl, options=options),
                            work / f"{tag}-{call.name}.stderr")
        cpu += server.cpu_seconds() - cpu0
        wall += run.wall_s
        audio += call.duration
        if run.returncode != 0:
            failures.append(f"{tag}/{call.name}: exit {run.returncode}: "
                            f"{run.stderr.strip().splitlines()[-1:] or ''}")
        events = scoring.load_events(jsonl) if jsonl.exists() else []
        score = scoring.score_turns(call.turns, scoring.times(events, "EndOfTurn"), slack)
        eager = scoring.score_turns(call.turns, scoring.times(events, "EagerEndOfTurn"), slack)
        total.add(score)
        eager_total.add(eager)
        resumed += sum(e.event == "TurnResumed" for e in events)
        triggers.update(e.trigger or "?" for e in events if e.event == "EndOfTurn")
        hyp = scoring.hypothesis(events)
        ref = " ".join(t.text for t in call.turns)
        pairs.append((ref, hyp))
        per_call.append({"call": call.name, "voice": call.voice, "exit": run.returncode,
                         "wall_s": round(run.wall_s, 2), "detected": score.detected,
                         "missed": score.missed, "pauses_cut": score.pauses_cut,
                         "wer": round(scoring.wer([(ref, hyp)])[0], 4)})
    return PassResult(total, eager_total, resumed, scoring.wer(pairs), dict(triggers), audio,
                      wall, cpu, failures, per_call)


def summarise(score: scoring.TurnScore) -> dict[str, Any]:
    return {"turns": score.turns, "detected": score.detected, "missed": score.missed,
            "missed_rate": score.missed_rate, "pauses": score.pauses,
            "pauses_cut": score.pauses_cut, "false_cutoff_rate": score.false_cutoff_rate,
            "inserted_pauses": score.inserted_pauses, "inserted_cut": score.inserted_cut,
            "cuts_mid_speech": score.cuts_mid_speech, "extra_ends": score.extra,
            "eot_p50": scoring.percentile(score.latencies, 50),
            "eot_p90": scoring.percentile(score.latencies, 90)}


# --------------------------------------------------------------------------- sweep


def sweep(server: EngineServer, calls: list[Call], work: Path, slack: float,
          results_dir: Path) -> dict[str, Any]:
    """One --fast pass per setting (no offline simulation: the engine's own rule decides)."""
    points = []
    for family, value, options in SWEEP:
        log(f"sweep {family}={value}")
        res = engine_pass(server, calls, work, f"sweep-{family}-{value}", options, slack)
        s = summarise(res.score)
        points.append({"family": family, "setting": f"{family}={value}", **options,
                       "false_cutoff_rate": s["false_cutoff_rate"], "latency_p50": s["eot_p50"],
                       "latency_p90": s["eot_p90"], "missed_rate": s["missed_rate"]})
    ops = [scoring.OperatingPoint(p["setting"], p["false_cutoff_rate"], p["latency_p50"])
           for p in points]

    def pick(p: scoring.OperatingPoint | None) -> dict[str, Any] | None:
        return None if p is None else {"setting": p.setting, "latency_p50": p.latency_p50,
                                       "false_cutoff_rate": p.false_cutoff_rate}

    plot = results_dir / "tradeoff.png"
    report.plot_tradeoff(points, plot)
    return {"method": "one --fast engine pass per setting", "calls": [c.name for c in calls],
            "points": points, "plot": str(plot),
            "cutoff_at_300ms": pick(scoring.cutoff_at_latency(ops, 0.3)),
            "cutoff_at_600ms": pick(scoring.cutoff_at_latency(ops, 0.6)),
            "latency_at_5pct": pick(scoring.latency_at_cutoff(ops, 0.05)),
            "latency_at_10pct": pick(scoring.latency_at_cutoff(ops, 0.10))}


# --------------------------------------------------------------------------- real time


def realtime(server: EngineServer, calls: list[Call], levels: tuple[int, ...], clip_s: float,
             work: Path, slack: float) -> dict[str, Any]:
    """1, 2, 4, 6 concurrent real-time streams; the most before p90 wall delay doubles."""
    from flux_cli.protocol import StreamParams

    clips = [corpus.clip(c, clip_s, work) for c in calls]
    query = StreamParams().to_query()
    out = []
    base_p90: float | None = None
    max_streams = 0
    for n in levels:
        chosen = [clips[i % len(clips)] for i in range(n)]
        log(f"real time: {n} concurrent stream(s) of {chosen[0].duration:.0f} s")
        cpu0, t0 = server.cpu_seconds(), time.monotonic()
        runs = stream_many(server.url, [c.path for c in chosen], query)
        cpu, wall = server.cpu_seconds() - cpu0, time.monotonic() - t0
        delays: list[float] = []
        errors = [r.error for r in runs if r.error]
        audio_lat: list[float] = []
        for clip, run in zip(chosen, runs, strict=True):
            delays += scoring.wall_latencies(clip.turns, run.events, run.sent_at, slack)
            audio_lat += scoring.score_turns(clip.turns, scoring.times(run.events, "EndOfTurn"),
                                             slack).latencies
        p90 = scoring.percentile(delays, 90)
        if base_p90 is None:
            base_p90 = p90
        ok = not errors and p90 is not None and base_p90 is not None and p90 <= 2 * base_p90
        if ok:
            max_streams = n
        out.append({"streams": n, "wall_p50": scoring.percentile(delays, 50), "wall_p90": p90,
                    "audio_p50": scoring.percentile(audio_lat, 50), "turns": len(delays),
                    "server_cpu_share": cpu / wall if wall else None, "errors": errors,
                    "within_2x": ok})
        if not ok:
            break
    first = out[0] if out else {}
    return {"levels": out, "max_streams": max_streams, "wall_p50": first.get("wall_p50"),
            "wall_p90": first.get("wall_p90"), "clip_s": clip_s}


# --------------------------------------------------------------------------- client


def client_overhead(calls: list[Call], minutes: float, work: Path) -> dict[str, Any]:
    """Stream a long file at --fast to the sink: CPU per audio second and RSS over time."""
    path = corpus.long_file(calls, minutes * 60, work)
    audio_s = minutes * 60
    with SinkServer() as sink:
        run = run_monitored(cli_command(sink.url, path, None, fast=True),
                            work / "client-fast.stderr", interval=0.5)
        frames = sum(len(s.frames) for s in sink.streams)
    growth = scoring.rss_growth(run.rss_samples)
    step = max(1, len(run.rss_samples) // 40)
    return {"audio_minutes": minutes, "exit": run.returncode, "wall_s": run.wall_s,
            "cpu_s": run.cpu_s, "cpu_per_audio_s": run.cpu_s / audio_s,
            "peak_rss_mb": run.peak_rss / 2**20, "rss_growth_mb": growth / 2**20,
            "frames_received": frames,
            "rss_mb_over_time": [[round(t, 1), round(r / 2**20, 1)]
                                 for t, r in run.rss_samples[::step]]}


def pacing_run(calls: list[Call], minutes: float, work: Path) -> dict[str, Any]:
    """Stream at --speed 1 to the sink; compare arrival times with the ideal schedule."""
    path = corpus.long_file(calls, minutes * 60, work)
    with SinkServer() as sink:
        run = run_monitored(cli_command(sink.url, path, None, fast=False, speed=1.0),
                            work / "client-pacing.stderr", interval=1.0)
        frames = sink.streams[-1].frames if sink.streams else []
    stats = scoring.pacing([t for t, _n in frames], [n / 32000 for _t, n in frames])
    # steady-state CPU share: between 10% and 90% of the run, so start-up is not counted
    samples = run.cpu_samples
    share = run.cpu_s / run.wall_s if run.wall_s else 0.0
    if len(samples) >= 10:
        a, b = samples[len(samples) // 10], samples[len(samples) * 9 // 10]
        if b[0] > a[0]:
            share = (b[1] - a[1]) / (b[0] - a[0])
    return {"minutes": minutes, "exit": run.returncode, **stats,
            "client_core_share": share, "client_core_share_with_startup":
            run.cpu_s / run.wall_s if run.wall_s else None}


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.run",
                                description="Measure the local engine and the client.")
    p.add_argument("--quick", action="store_true", help="a few minutes of audio (smoke test)")
    p.add_argument("--smoke", action="store_true",
                   help="one tiny call, accuracy only (for the test suite)")
    p.add_argument("--corpus-dir", type=Path, default=corpus.DEFAULT_CACHE,
                   help="where generated audio and run logs are cached")
    p.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    p.add_argument("--seed", type=int, default=corpus.DEFAULT_SEED)
    p.add_argument("--sweep", action="store_true",
                   help="trade-off curve: one pass per eot_threshold / eot_timeout_ms setting")
    p.add_argument("--sweep-calls", type=int, help="calls used by the sweep (a subset)")
    p.add_argument("--realtime", action=argparse.BooleanOptionalAction, default=None,
                   help="real-time streams: wall-clock delay and max concurrent streams")
    p.add_argument("--client", action=argparse.BooleanOptionalAction, default=None,
                   help="client CPU, memory and pacing against a sink server")
    p.add_argument("--eager", type=float, default=0.5,
                   help="eager_eot_threshold for the eager pass (0 to skip)")
    p.add_argument("--concurrency", help="comma-separated stream counts, e.g. 1,2,4,6")
    p.add_argument("--pacing-minutes", type=float)
    p.add_argument("--client-minutes", type=float, help="length of the file the client streams")
    p.add_argument("--slack", type=float, default=scoring.DEFAULT_SLACK,
                   help="seconds after a pause in which an EndOfTurn still counts as a cut-off")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    mode = MODES["smoke" if args.smoke else "quick" if args.quick else "full"]
    realtime_on = args.realtime if args.realtime is not None else mode.name != "smoke"
    client_on = args.client if args.client is not None else mode.name != "smoke"
    levels = tuple(int(x) for x in args.concurrency.split(",")) if args.concurrency \
        else mode.levels
    pacing_minutes = args.pacing_minutes or mode.pacing_minutes
    client_minutes = args.client_minutes or mode.client_minutes
    work = args.corpus_dir / corpus.cache_name(args.seed, mode.corpus)
    runs = args.corpus_dir / "runs" / mode.name
    runs.mkdir(parents=True, exist_ok=True)
    args.results_dir.mkdir(parents=True, exist_ok=True)

    calls = corpus.build(mode.corpus, args.corpus_dir, args.seed)  # smoke: the committed call
    log(f"corpus: {mode.corpus} in {calls[0].path.parent}")
    results: dict[str, Any] = {
        "machine": report.machine_info(), "corpus": corpus.summary(calls),
        "config": {"mode": mode.name, "seed": args.seed, "slack_s": args.slack,
                   "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())},
    }
    failures: list[str] = []
    with EngineServer(runs / "server.log") as server:
        log(f"engine at {server.url}; warming up")
        engine_pass(server, calls[:1], runs, "warmup", {}, args.slack)
        log(f"accuracy pass: {len(calls)} calls, {results['corpus']['minutes']:.1f} min")
        main_pass = engine_pass(server, calls, runs, "main", {}, args.slack)
        failures += main_pass.failures
        results["accuracy"] = {**summarise(main_pass.score), "wer": main_pass.wer[0],
                               "wer_errors": main_pass.wer[1], "wer_words": main_pass.wer[2],
                               "triggers": main_pass.triggers, "per_call": main_pass.per_call}
        results["speed"] = {"audio_s": main_pass.audio_s, "wall_s": main_pass.wall_s,
                            "x_realtime": main_pass.audio_s / main_pass.wall_s,
                            "cpu_per_audio_s": main_pass.cpu_s / main_pass.audio_s,
                            "note": "wall includes each CLI start-up"}
        if args.eager and mode.eager_calls:
            subset = spread(calls, mode.eager_calls)
            log(f"eager pass (eager_eot_threshold={args.eager}) on {len(subset)} calls")
            ep = engine_pass(server, subset, runs, "eager",
                             {"eager_eot_threshold": f"{args.eager:g}"}, args.slack)
            failures += ep.failures
            results["eager"] = {"threshold": args.eager, "calls": len(subset),
                                **summarise(ep.eager), "turn_resumed": ep.turn_resumed,
                                "end_of_turn": summarise(ep.score)}
        if args.sweep:
            n = args.sweep_calls or mode.sweep_calls
            results["sweep"] = sweep(server, spread(calls, n), runs, args.slack, args.results_dir)
        if realtime_on and levels:
            results["realtime"] = realtime(server, calls, levels, mode.clip_s, work, args.slack)
    if client_on and client_minutes:
        log(f"client overhead: {client_minutes:g} min file at --fast to a sink")
        results["client"] = client_overhead(calls, client_minutes, work)
    if client_on and pacing_minutes:
        log(f"pacing: {pacing_minutes:g} min at --speed 1 to a sink")
        results["pacing"] = pacing_run(calls, pacing_minutes, work)

    results["failures"] = failures
    results["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    table = report.markdown(results)
    (args.results_dir / "latest.json").write_text(json.dumps(results, indent=1) + "\n")
    (args.results_dir / "latest.md").write_text(table)
    print(table)
    for failure in failures:
        log(f"failed: {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
