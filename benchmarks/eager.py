"""``python -m benchmarks.eager``: what ``eager_eot_threshold`` buys, per held-out set.

Deepgram describes eager mode as a trade: an ``EagerEndOfTurn`` lets an agent start its reply
before the ``EndOfTurn``, and every ``TurnResumed`` is a reply thrown away (a partner's docs
quote 0.3-0.5 for ~150-250 ms saved at ~50-70 % more LLM calls). This measures the same two
numbers for the local engine, from a replay of the engine's own per-pause evidence (the
``benchmarks.eot_train collect`` cache of the test splits, as ``benchmarks.turns`` uses), at the
default ``eot_threshold`` 0.7 and ``eot_timeout_ms`` 5000:

- **saved**: on each turn's real end, the time from ``EagerEndOfTurn`` to ``EndOfTurn``
  (median; 0 when both go out in the same window);
- **extra replies**: ``TurnResumed`` events (an eager end in a pause that speech then
  resumed after, without an ``EndOfTurn`` in it) per ``EndOfTurn``: the replies an agent
  starts and throws away, on top of one per turn.

Nothing is tuned here: the thresholds are the protocol's range, the model is the committed one.
``--e2e SETS`` also streams those sets through ``flux serve`` with the CLI at ``--fast`` and
eager 0.5, and reports the same figures from the logs, beside the replay's (~1 min a set).
Writes ``results/eager.json`` and ``results/eager.md``.
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks import eot_train, report
from benchmarks.run import engine_pass
from benchmarks.scoring import percentile
from benchmarks.servers import EngineServer
from flux_cli.engine.eot_model import MODEL_FILE, EotModel

EOT_THRESHOLD = 0.7
EAGER_THRESHOLDS = (0.3, 0.4, 0.5, 0.6)
E2E_EAGER = 0.5
SETS = ("real", "neural", "synthetic", "twoparty", "noisy10", "tel8k", *eot_train.NEVER_TRAINED)
RESULTS = Path(__file__).with_name("results")


@dataclass
class EagerTally:
    """Counts of one set's replay at one pair of thresholds."""

    end_of_turns: int = 0  # at turn ends and false cut-offs
    resumed: int = 0  # eager ends in a pause that speech resumed after
    saved: list[float] = field(default_factory=list)  # per turn end: EndOfTurn - Eager
    eager_latency: list[float] = field(default_factory=list)  # per turn end, from the label
    eot_latency: list[float] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        def ms(values: list[float], q: float) -> int | None:
            v = percentile(values, q)
            return None if v is None else round(v * 1000)

        return {"end_of_turns": self.end_of_turns, "resumed": self.resumed,
                "extra_replies": round(self.resumed / max(self.end_of_turns, 1), 3),
                "saved_p50_ms": ms(self.saved, 50), "saved_p90_ms": ms(self.saved, 90),
                "eager_p50_ms": ms(self.eager_latency, 50),
                "eot_p50_ms": ms(self.eot_latency, 50)}


def tally(turns: list[list[eot_train.Pause]], model: EotModel, eager: float,
          eot: float = EOT_THRESHOLD) -> EagerTally:
    """Replay each pause: where the eager and the final threshold would be reached."""
    eager_at, eot_at = eot_train.model_rule(model, eager), eot_train.model_rule(model, eot)
    out = EagerTally()
    for turn in turns:
        for p in turn:
            e, f = eager_at(p), eot_at(p)
            if p.is_end:
                out.end_of_turns += 1
                out.saved.append(max(0.0, f - e))
                base = p.record.speech_end - p.label_end
                out.eager_latency.append(base + e)
                out.eot_latency.append(base + f)
                break
            if f < p.length:
                out.end_of_turns += 1  # a false cut-off: the agent's reply is (wrongly) used
            elif e < p.length:
                out.resumed += 1
    return out


def run(sets: Sequence[str], model: EotModel) -> dict[str, Any]:
    return {name: {str(e): tally(eot_train.pauses_of(name, "test"), model, e).summary()
                   for e in EAGER_THRESHOLDS} for name in sets}


def _ms(values: list[float]) -> int | None:
    v = percentile(values, 50)
    return None if v is None else round(v * 1000)


def end_to_end(sets: Sequence[str], slack: float = 0.3) -> dict[str, Any]:
    """The same figures from the engine itself: each set through ``flux serve`` at eager 0.5."""
    out: dict[str, Any] = {}
    options = {"eager_eot_threshold": str(E2E_EAGER), "eot_threshold": str(EOT_THRESHOLD)}
    with tempfile.TemporaryDirectory(prefix="flux-eager-") as tmp:
        work = Path(tmp)
        with EngineServer(work / "server.log") as server:
            for name in sets:
                wire = {"sample_rate": "8000", "encoding": "mulaw"} if name == "tel8k" else {}
                res = engine_pass(server, eot_train.set_calls(name, "test"), work, name,
                                  {**options, **wire}, slack)
                ends = sum(res.triggers.values())  # every EndOfTurn in the logs
                out[name] = {"eot_p50_ms": _ms(res.score.latencies),
                             "eager_p50_ms": _ms(res.eager.latencies),
                             "resumed": res.turn_resumed, "end_of_turns": ends,
                             "extra_replies": round(res.turn_resumed / max(ends, 1), 3),
                             "failures": res.failures}
    return out


def markdown(rows: dict[str, Any], machine: dict[str, Any],
             e2e: dict[str, Any] | None = None) -> str:
    lines = ["# What `eager_eot_threshold` buys (local engine, committed model)", "",
             f"`python -m benchmarks.eager` on {machine.get('cpu', '?')}: replay of the engine's "
             "own per-pause evidence on each held-out test split, `eot_threshold` "
             f"{EOT_THRESHOLD}. Per eager threshold: the median time an `EagerEndOfTurn` comes "
             "before the `EndOfTurn` at a turn's real end (p90 in brackets), and the "
             "`TurnResumed` events per `EndOfTurn` (replies an agent starts and throws away).",
             "", "| set | EndOfTurn p50 | " + " | ".join(f"eager {e}: saved / extra replies"
                                                      for e in EAGER_THRESHOLDS) + " |",
             "|---|---|" + "---|" * len(EAGER_THRESHOLDS)]
    for name, by in rows.items():
        cells = []
        for e in EAGER_THRESHOLDS:
            s = by[str(e)]
            cells.append(f"{s['saved_p50_ms']} ms ({s['saved_p90_ms']}) / "
                         f"+{s['extra_replies']:.0%}")
        eot_p50 = by[str(EAGER_THRESHOLDS[0])]["eot_p50_ms"]
        lines.append(f"| {name} | {eot_p50} ms | " + " | ".join(cells) + " |")
    if e2e:
        lines += ["", f"## End to end at eager {E2E_EAGER}: the engine against the replay", "",
                  "Each set's test calls through `flux serve` with `flux transcribe --fast "
                  f"--eager-eot-threshold {E2E_EAGER}`, scored from the logs (EndOfTurn and "
                  "EagerEndOfTurn latency from the labelled end, p50; `TurnResumed` per "
                  "EndOfTurn), beside the replay's figures for the same set.", "",
                  "| set | EndOfTurn p50: engine / replay | EagerEndOfTurn p50: engine / replay "
                  "| extra replies: engine / replay |", "|---|---|---|---|"]
        for name, r in e2e.items():
            rp = rows.get(name, {}).get(str(E2E_EAGER), {})
            lines.append(f"| {name} | {r['eot_p50_ms']} / {rp.get('eot_p50_ms')} ms | "
                         f"{r['eager_p50_ms']} / {rp.get('eager_p50_ms')} ms | "
                         f"+{r['extra_replies']:.0%} ({r['resumed']}/{r['end_of_turns']}) / "
                         f"+{rp.get('extra_replies', 0):.0%} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.eager")
    p.add_argument("--sets", default=",".join(SETS))
    p.add_argument("--e2e", default="", help="sets also run end to end at eager 0.5")
    p.add_argument("--results-dir", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    sets = args.sets.split(",")
    eot_train.collect(sets, ["test"])
    rows = run(sets, EotModel.from_json(MODEL_FILE.read_text()))
    machine = report.machine_info()
    e2e = end_to_end([s for s in args.e2e.split(",") if s]) if args.e2e else None
    report.write_results(args.results_dir, "eager", {
        "machine": machine, "eot_threshold": EOT_THRESHOLD, "sets": rows, "end_to_end": e2e},
        markdown(rows, machine, e2e))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
