"""Tune ``DetectorConfig`` by replaying per-pause evidence instead of re-running the engine.

The expensive part of a detector decision (one Whisper decode and one Smart Turn call at the
decision point of each pause) does not depend on the confidence model's constants, so it is
collected once: every labelled turn is fed alone (oracle turn start) through a real
:class:`~flux_cli.server.session.TurnSession` whose detector records the evidence and never
ends the turn. A candidate config is then scored in microseconds per pause: the confidence
``sigmoid(base + slope · (s - s0))`` crosses the threshold at a silence ``s`` we can solve for,
and that is either inside a pause (a false cut-off, if speech had not resumed) or after the
turn's end (its latency). Calls 0-5 tune, 6-11 are held out.

    python -m benchmarks.tune collect   # ~5 min on 2 cores, writes the evidence file
    python -m benchmarks.tune replay    # the grid search, tuned vs held out
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from multiprocessing import Pool
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from benchmarks import corpus
from benchmarks.scoring import DEFAULT_SLACK, EARLY, percentile
from flux_cli.protocol import StreamParams
from flux_cli.server.detector import (
    DEFAULT_CONFIG,
    Detector,
    DetectorConfig,
    PauseEvidence,
    lexical_score,
    logit,
)
from flux_cli.server.session import TurnSession

SR = 16000
DEFAULT_EVIDENCE = corpus.DEFAULT_CACHE / "tune-evidence.json"
TUNE_CALLS = range(0, 6)
HELD_OUT_CALLS = range(6, 12)
LEAD_IN_S = 0.5  # audio fed before the labelled turn start
TAIL_S = 3.0  # silence fed after the labelled turn end
CHUNK = 4096


class _RecordingDetector(Detector):
    """Keeps every pause's evidence and returns a base so low the model never ends a turn."""

    def __init__(self, config: DetectorConfig) -> None:
        super().__init__(config)
        self.seen: list[PauseEvidence] = []

    def base_logit(self, evidence: PauseEvidence) -> float:
        self.seen.append(evidence)
        return -100.0


@dataclass
class PauseRecord:
    """One judged pause: where speech stopped, where it was judged and resumed, the evidence."""

    speech_end: float  # seconds in the call
    decided_at: float
    resumed_at: float | None  # None: speech never came back within the fed audio
    smart_turn: float
    transcript: str


class _RecordingSession(TurnSession):
    """A session that notes where each pause was judged and where speech came back."""

    records: list[PauseRecord]

    def _judge(self, turn: Any) -> None:
        super()._judge(turn)
        assert isinstance(self.detector, _RecordingDetector)
        ev = self.detector.seen[-1]
        self.records.append(PauseRecord(self._last_speech_end / SR, self._pos / SR, None,
                                        ev.smart_turn, ev.transcript))

    def _resume(self, out: list[Any]) -> None:
        turn = self._turn
        if turn is not None and turn.evidence_base is not None and self.records:
            self.records[-1].resumed_at = self._pos / SR
        super()._resume(out)


def _collect_call(index: int) -> dict[str, Any]:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from flux_cli.server.loader import load_engine

    engine = load_engine(asr_threads=1, asr_workers=1)
    call = corpus.build("full")[index]
    audio, _ = sf.read(call.path, dtype="float32")
    # w_smart must be non-zero for the session to call Smart Turn at all.
    config = dataclasses.replace(DEFAULT_CONFIG, w_smart=1e-6)
    params = StreamParams(eot_timeout_ms=10000)
    turns = []
    for turn in call.turns:
        offset = max(0, round((turn.start - LEAD_IN_S) * SR))
        end = min(len(audio), round((turn.end + TAIL_S) * SR))
        session = _RecordingSession(vad=engine.vad.new_stream(), transcriber=engine.transcriber,
                                    end_of_turn=engine.end_of_turn, params=params,
                                    request_id="tune", config=config, sync_interim=False)
        session.detector = _RecordingDetector(config)
        session.records = []
        session.start()
        for pos in range(offset, end, CHUNK):
            session.feed(audio[pos: min(end, pos + CHUNK)])
        session.close()
        shift = offset / SR
        for r in session.records:
            r.speech_end += shift
            r.decided_at += shift
            r.resumed_at = None if r.resumed_at is None else r.resumed_at + shift
        turns.append([dataclasses.asdict(r) for r in session.records])
    return {"name": call.name, "turns": turns}


def collect(path: Path, processes: int = 2) -> None:
    """Run every call of the full corpus once and write the evidence to ``path``."""
    corpus.build("full")  # make sure the audio exists before the workers start
    with Pool(processes) as pool:
        data = pool.map(_collect_call, range(corpus.SIZES["full"].calls))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


@dataclass
class Score:
    pauses: int = 0
    cut: int = 0
    other_cut: int = 0  # cuts at unlabelled (VAD-only) pauses
    latencies: list[float] = dataclasses.field(default_factory=list)
    missed: int = 0

    @property
    def cut_rate(self) -> float:
        return self.cut / self.pauses if self.pauses else 0.0

    def summary(self) -> dict[str, Any]:
        p50, p90 = percentile(self.latencies, 50), percentile(self.latencies, 90)
        return {"false_cutoffs": round(self.cut_rate, 3), "cut": self.cut, "pauses": self.pauses,
                "other_cuts": self.other_cut, "p50": p50 and round(p50, 3),
                "p90": p90 and round(p90, 3), "turn_ends": len(self.latencies),
                "no_end": self.missed}


def _end_silence(base: float, decided: float, config: DetectorConfig, threshold: float,
                 timeout: float) -> float:
    """Silence (s) at which the confidence first reaches ``threshold`` (or the timeout)."""
    need = math.log(threshold / (1 - threshold)) - base
    at = config.s0 + need / config.slope_per_s if config.slope_per_s > 0 else (
        decided if need <= 0 else math.inf)
    return min(max(at, decided), timeout)


def replay(data: list[dict[str, Any]], calls: Iterable[int], config: DetectorConfig,
           threshold: float = 0.7, timeout: float = 5.0) -> Score:
    """Score ``config`` on the recorded evidence of ``calls`` (oracle turn starts)."""
    labels = corpus.build("full")
    score = Score()
    for index in calls:
        for label, records in zip(labels[index].turns, data[index]["turns"], strict=True):
            score.pauses += len(label.pauses)
            cut_pauses: set[int] = set()
            ended = False
            for r in records:
                silence_at_decision = r["decided_at"] - r["speech_end"]
                base = (config.bias + config.w_smart * logit(r["smart_turn"], config.smart_clip)
                        + lexical_score(r["transcript"], config))
                s = _end_silence(base, silence_at_decision, config, threshold, timeout)
                t = r["speech_end"] + s
                if r["speech_end"] >= label.end - EARLY:  # the turn's real end
                    score.latencies.append(t - label.end)
                    ended = True
                    break
                if r["resumed_at"] is not None and t >= r["resumed_at"]:
                    continue  # speech came back first
                hit = [j for j, (a, b) in enumerate(label.pauses)
                       if a - EARLY <= t <= b + DEFAULT_SLACK]
                if hit:
                    cut_pauses.update(hit)
                else:
                    score.other_cut += 1
            score.cut += len(cut_pauses)
            if not ended:
                score.missed += 1
    return score


GRID: dict[str, Sequence[float]] = {
    "w_smart": [0.0, 0.25, 0.5, 0.75, 1.0, 1.5],
    "bias": [-1.0, -0.75, -0.5, -0.25, 0.0, 0.25, 0.5, 0.75, 1.0],
    "slope_per_s": [1.5, 2.0, 2.5, 3.0, 4.0, 5.0],
    "lex_period": [0.0, 0.5, 1.0],
    "lex_short_turn": [-2.0, -1.0, 0.0],
}


def search(data: list[dict[str, Any]], p50_budget: float = 0.4,
           p90_budget: float = 0.9) -> list[tuple[DetectorConfig, Score]]:
    """Every grid config on the tuning calls; the best (fewest cut-offs within budget) first."""
    found = []
    keys = list(GRID)
    for values in itertools.product(*(GRID[k] for k in keys)):
        overrides: dict[str, Any] = dict(zip(keys, values, strict=True))
        config = dataclasses.replace(DEFAULT_CONFIG, **overrides)
        s = replay(data, TUNE_CALLS, config)
        p50, p90 = percentile(s.latencies, 50), percentile(s.latencies, 90)
        if p50 is None or p90 is None or p50 > p50_budget or p90 > p90_budget:
            continue
        found.append((config, s))
    found.sort(key=lambda cs: (cs[1].cut + cs[1].other_cut, percentile(cs[1].latencies, 50)))
    return found


def smart_turn_separation(data: list[dict[str, Any]]) -> dict[str, Any]:
    """How well Smart Turn alone tells turn ends from inside pauses: the AUC (0.5 = chance)
    of its probability at real ends against each kind of labelled pause."""
    labels = corpus.build("full")
    by_kind: dict[str, list[float]] = {"end": [], "inserted": [], "natural": []}
    for index, call in enumerate(data):
        for label, records in zip(labels[index].turns, call["turns"], strict=True):
            for r in records:
                if r["speech_end"] >= label.end - EARLY:
                    by_kind["end"].append(r["smart_turn"])
                    break
                for (a, b), kind in zip(label.pauses, label.pause_kinds, strict=True):
                    if a - DEFAULT_SLACK <= r["speech_end"] <= b:
                        by_kind[kind].append(r["smart_turn"])
                        break
    ends = np.asarray(by_kind["end"])
    out: dict[str, Any] = {"median_end": round(float(np.median(ends)), 3)}
    for kind in ("inserted", "natural"):
        inside = np.asarray(by_kind[kind])
        auc = np.mean(ends[:, None] > inside[None, :]) + 0.5 * np.mean(
            ends[:, None] == inside[None, :])
        out[kind] = {"n": int(inside.size), "median": round(float(np.median(inside)), 3),
                     "auc": round(float(auc), 3)}
    return out


def _describe(config: DetectorConfig) -> dict[str, float]:
    return {k: getattr(config, k) for k in GRID}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.tune")
    p.add_argument("action", choices=["collect", "replay"])
    p.add_argument("--evidence", type=Path, default=DEFAULT_EVIDENCE)
    p.add_argument("--top", type=int, default=10)
    args = p.parse_args(argv)
    if args.action == "collect":
        collect(args.evidence)
        return
    data = json.loads(args.evidence.read_text())
    for name, config in [("current default", DEFAULT_CONFIG)]:
        print(name, _describe(config))
        for split, calls in [("tune", TUNE_CALLS), ("held-out", HELD_OUT_CALLS)]:
            print(f"  {split:8s}", replay(data, calls, config).summary())
    print("Smart Turn alone, ends vs inside pauses:", smart_turn_separation(data))
    for config, s in search(data)[: args.top]:
        print(_describe(config))
        print("  tune    ", s.summary())
        print("  held-out", replay(data, HELD_OUT_CALLS, config).summary())


if __name__ == "__main__":
    main()
