"""``python -m benchmarks.stream_start``: what a stream's first second costs in wall time.

Why: a stream of 11.025 kHz or more is held back until the band check's verdict, at most 1.5 s
(``flux_cli/audio/phone_line.py``, stop 40), so an upsampled phone call is a phone line from
its first sample. Decisions are made in audio time, so no turn, word or audio-time latency
changes; what can change is *when* the client receives what the engine says about the
stream's first second. This streams the first seconds of held-out calls in real time, one
engine (``--engine``, a checkout; this one by default) against another (``--baseline``), the
same calls in the same order, and reports each event's wall-clock lag: when it arrived
minus when the frame holding its audio end was sent.

Lags are split into events about the stream's first ``--early`` seconds of audio (where a
hold can delay them) and later ones (where it must not), with the first ``StartOfTurn`` and
the first ``EndOfTurn`` of each stream apart. Writes ``results/stream_start.{json,md}``.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

from benchmarks import corpus, report, scoring
from benchmarks.eot_train import set_calls
from benchmarks.run import log
from benchmarks.scoring import Event
from benchmarks.servers import EngineServer
from benchmarks.streams import RealtimeRun, stream_many
from benchmarks.wer_baseline import HERE, commit_of

RESULTS = Path(__file__).with_name("results")


def lags(run: RealtimeRun, early_s: float) -> dict[str, list[float]]:
    """Each event's wall lag, by kind: ``early``/``later`` (every TurnInfo), ``first_start``
    and ``first_end`` (at most one each)."""
    out: dict[str, list[float]] = {"early": [], "later": [], "first_start": [], "first_end": []}
    seen: set[str] = set()
    for event in run.events:
        lag = _lag(run, event)
        if lag is None:
            continue
        out["early" if event.end < early_s else "later"].append(lag)
        for kind, key in (("StartOfTurn", "first_start"), ("EndOfTurn", "first_end")):
            if event.event == kind and kind not in seen:
                seen.add(kind)
                out[key].append(lag)
    return out


def _lag(run: RealtimeRun, event: Event) -> float | None:
    sent = run.sent_at(max(0.0, event.end - 1e-3))
    return None if sent is None or event.received is None else event.received - sent


def measure(root: Path | None, calls: list[corpus.Call], streams: int, early_s: float,
            work: Path) -> dict[str, Any]:
    """Every call streamed in real time, ``streams`` at a time, through one engine."""
    from flux_cli.protocol import StreamParams

    query = StreamParams().to_query()
    pooled: dict[str, list[float]] = {"early": [], "later": [], "first_start": [],
                                      "first_end": []}
    errors: list[str] = []
    with EngineServer(work / "serve.log", root=root) as server:
        for i in range(0, len(calls), streams):
            batch = calls[i:i + streams]
            for run in stream_many(server.url, [c.path for c in batch], query):
                if run.error:
                    errors.append(run.error)
                for key, values in lags(run, early_s).items():
                    pooled[key] += values
    row: dict[str, Any] = {"engine": commit_of(root or HERE), "errors": errors}
    for key, values in pooled.items():
        row[key] = {"n": len(values), "p50": scoring.percentile(values, 50),
                    "p90": scoring.percentile(values, 90),
                    "max": max(values) if values else None}
    return row


def markdown(result: dict[str, Any]) -> str:
    lines = ["# A stream's first second in wall time (`python -m benchmarks.stream_start`)", "",
             f"{report.measured_on(result['machine'])}: the first {result['seconds']:g} s of "
             f"{result['calls']} held-out calls ({', '.join(result['sets'])}, test splits) in "
             f"real time, {result['streams']} at a time, as 16 kHz linear16. Lag: an event's "
             "arrival minus the send time of the frame holding its audio end (ms); early: "
             f"events about the first {result['early_s']:g} s of audio.", "",
             "| engine | first StartOfTurn p50 / p90 / max | first EndOfTurn p50 / p90 / max "
             "| early events p50 / p90 / max | later events p50 / p90 / max | errors |",
             "|---|---|---|---|---|---|"]
    for row in result["rows"]:
        cells = [" / ".join("-" if row[k][s] is None else f"{row[k][s] * 1000:.0f}"
                            for s in ("p50", "p90", "max")) + f" ({row[k]['n']})"
                 for k in ("first_start", "first_end", "early", "later")]
        lines.append(f"| {row['engine']} | " + " | ".join(cells) + f" | {len(row['errors'])} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.stream_start")
    p.add_argument("--engine", type=Path, default=None, help="a checkout to serve (default: this)")
    p.add_argument("--baseline", type=Path, default=None, help="another checkout, measured too")
    p.add_argument("--sets", default="real,neural,twoparty")
    p.add_argument("--seconds", type=float, default=10.0, help="of each call, cut after a turn")
    p.add_argument("--streams", type=int, default=2, help="at a time")
    p.add_argument("--early", type=float, default=2.0, help="seconds of audio counted early")
    p.add_argument("--cache-dir", type=Path, default=corpus.DEFAULT_CACHE)
    p.add_argument("--results-dir", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    sets = args.sets.split(",")
    with tempfile.TemporaryDirectory(prefix="stream-start-") as tmp:
        work = Path(tmp)
        calls = [corpus.clip(c, args.seconds, work)
                 for name in sets for c in set_calls(name, "test", args.cache_dir)]
        rows = []
        for root in ([args.baseline] if args.baseline else []) + [args.engine]:
            log(f"{len(calls)} calls in real time through {root or 'this checkout'}")
            rows.append(measure(root, calls, args.streams, args.early, work))
    result = {"machine": report.machine_info(), "sets": sets, "calls": len(calls),
              "seconds": args.seconds, "streams": args.streams, "early_s": args.early,
              "rows": rows}
    report.write_results(args.results_dir, "stream_start", result, markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
