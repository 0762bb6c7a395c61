"""``python -m benchmarks.pause_gate``: where the pause gate (``flux_cli/engine/pause_gate.py``)
overrules the VAD, set by set, and which turn ends it opens.

Why: over babble the VAD hears speech in the caller's pauses, so a turn never pauses and its
end is missed; the gate calls a voiced window a pause while its smoothed level is near the
call's floor. It must open the pauses babble hides and leave clean speech alone. For each set
and split, the engine's own VAD, floor and gate (no decoding) over every call as the engine
receives it (``tel8k`` as µ-law at 8 kHz through the wire decoder, the rest at 16 kHz):

- **voiced windows overruled**: voiced windows the gate calls a pause, inside labelled turns
  and outside them. A set with none inside or outside is one where the gate changes no
  decision of the engine's: every window's speech verdict is the VAD's.
- **turn ends heard**: labelled turn ends followed by a pause long enough to be judged
  (``decide_after_s`` without speech, beginning from 0.1 s before the end to 0.6 s after
  it), by the VAD alone and with the gate.
- **pauses inside turns**: judged-length pauses that begin inside a labelled turn's speech,
  away from its labelled pauses (where the engine may now cut a turn that was talking).

The gate's setting was chosen on ``noisy10`` and ``noisy20`` **train** calls end to end
(``docs/TURNS.md``, "Babble hides the caller's pauses"); the test splits here are only
counted. Writes ``results/pause_gate.{json,md}``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import corpus, report
from benchmarks.corpus import Call
from benchmarks.eot_train import NEVER_TRAINED, set_calls
from flux_cli.engine.interfaces import SAMPLE_RATE, VAD_WINDOW

RESULTS = Path(__file__).with_name("results")
SETS = ("noisy10", "noisy20", "tel8k", "real", "neural", "synthetic", "twoparty",
        "twoparty_close", "twoparty_overlap", "unseen_twoparty", *NEVER_TRAINED)
# ``tel8k`` as in-process benchmarks read it (the WAV resampled to 16 kHz), beside the wire's
IN_PROCESS = "tel8k@16k"
PHONE = "tel8k"
END_BEFORE_S, END_AFTER_S = 0.1, 0.6
WINDOW_S = VAD_WINDOW / SAMPLE_RATE


def engine_audio(call: Call, name: str) -> np.ndarray:
    """The call as the engine's session receives it (16 kHz float32)."""
    import soundfile as sf

    from benchmarks.phone_offset import to_16k, wire_16k

    audio, rate = sf.read(call.path, dtype="float32")
    if name == PHONE:  # as ``benchmarks.turns`` sends it
        return wire_16k(audio, "mulaw", blocker=True)
    return to_16k(audio, rate)


def verdicts(audio: np.ndarray, probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per window: the VAD's speech verdict (its hysteresis) and the gate's "loud"."""
    from flux_cli.engine.detector import DEFAULT_CONFIG
    from flux_cli.engine.pause_gate import PauseGate
    from flux_cli.engine.speech_tracker import SpeechTracker
    from flux_cli.engine.voice_change import floor_of

    config = DEFAULT_CONFIG
    gate_config = config.pause_gate
    assert gate_config is not None, "the engine's default has no pause gate"
    floor = floor_of(config.voice_change)
    gate = PauseGate(gate_config, round(gate_config.settle_s / WINDOW_S))
    tracker = SpeechTracker(config)  # the engine's own VAD hysteresis
    voiced = np.zeros(len(probs), bool)
    loud = np.zeros(len(probs), bool)
    for i, p in enumerate(probs):
        start = i * VAD_WINDOW
        level = floor.step(audio[start:start + VAD_WINDOW])
        loud[i] = gate.step(level, floor.floor())
        tracker.step(float(p), start, start + VAD_WINDOW, in_pause=False, loud=bool(loud[i]))
        voiced[i] = tracker.voiced
    return voiced, loud


def pause_starts(speech: np.ndarray, min_windows: int) -> list[int]:
    """Windows where a run of at least ``min_windows`` non-speech windows begins."""
    starts, run = [], 0
    for i, s in enumerate(speech):
        run = 0 if s else run + 1
        if run == min_windows:
            starts.append(i - min_windows + 1)
    return starts


def inside(t: float, call: Call) -> bool:
    """Inside a labelled turn's speech, away from its labelled pauses."""
    for turn in call.turns:
        if turn.start <= t < turn.end:
            return not any(a - END_BEFORE_S <= t < b for a, b in turn.pauses)
    return False


def census(calls: list[Call], name: str, vad: Any) -> dict[str, int]:
    from flux_cli.engine.detector import DEFAULT_CONFIG

    judged = round(DEFAULT_CONFIG.decide_after_s / WINDOW_S)
    out = {"windows": 0, "voiced": 0, "overruled_in_turns": 0, "overruled_outside": 0,
           "ends": 0, "ends_vad": 0, "ends_gate": 0, "inside_vad": 0, "inside_gate": 0}
    for call in calls:
        audio = engine_audio(call, name)
        probs = np.asarray(vad.new_stream().process(audio))
        voiced, loud = verdicts(audio, probs)
        overruled = voiced & ~loud
        times = np.arange(len(probs)) * WINDOW_S
        in_turn = np.zeros(len(probs), bool)
        for turn in call.turns:
            in_turn |= (times >= turn.start) & (times < turn.end)
        out["windows"] += len(probs)
        out["voiced"] += int(voiced.sum())
        out["overruled_in_turns"] += int((overruled & in_turn).sum())
        out["overruled_outside"] += int((overruled & ~in_turn).sum())
        for key, speech in (("vad", voiced), ("gate", voiced & loud)):
            starts = [i * WINDOW_S for i in pause_starts(speech, judged)]
            out[f"inside_{key}"] += sum(inside(t, call) for t in starts)
            out[f"ends_{key}"] += sum(
                any(turn.end - END_BEFORE_S <= t <= turn.end + END_AFTER_S for t in starts)
                for turn in call.turns)
        out["ends"] += len(call.turns)
    return out


def markdown(result: dict[str, Any]) -> str:
    m = result["machine"]
    lines = ["# Where the pause gate overrules the VAD (`python -m benchmarks.pause_gate`)", "",
             f"{report.measured_on(m)}; the gate: {result['gate']}. Why and how it was "
             "chosen: `docs/TURNS.md`, \"Babble hides the caller's pauses\". Turn ends heard: "
             "a pause long enough to be judged begins from 0.1 s before the labelled end to "
             "0.6 s after it. Pauses inside turns: such a pause beginning inside a labelled "
             "turn's speech, away from its labelled pauses.", "",
             "| set | split | voiced windows | overruled in turns | outside turns | "
             "turn ends heard (VAD / with the gate) | pauses inside turns (VAD / gate) |",
             "|---|---|---|---|---|---|---|"]
    for row in result["rows"]:
        c = row["census"]
        lines.append(
            f"| {row['set']} | {row['split']} | {c['voiced']} of {c['windows']} | "
            f"{c['overruled_in_turns']} | {c['overruled_outside']} | "
            f"{c['ends_vad']} / {c['ends_gate']} of {c['ends']} | "
            f"{c['inside_vad']} / {c['inside_gate']} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    from dataclasses import asdict

    from flux_cli.engine.detector import DEFAULT_CONFIG
    from flux_cli.engine.models.loader import load_engine

    p = argparse.ArgumentParser(prog="python -m benchmarks.pause_gate")
    p.add_argument("--cache-dir", type=Path, default=corpus.DEFAULT_CACHE)
    p.add_argument("--results-dir", type=Path, default=RESULTS)
    p.add_argument("--sets", default=",".join(SETS))
    args = p.parse_args(argv)
    vad = load_engine(asr_threads=1, asr_workers=1).vad
    rows = []
    names = args.sets.split(",")
    if PHONE in names:
        names.insert(names.index(PHONE) + 1, IN_PROCESS)
    for name in names:
        source = PHONE if name == IN_PROCESS else name
        # the ``unseen_*`` sets have a test split only
        for split in ("test",) if source.startswith("unseen") else ("train", "test"):
            calls = set_calls(source, split, args.cache_dir)
            if calls:
                rows.append({"set": name, "split": split, "census": census(calls, name, vad)})
                print(rows[-1], flush=True)
    gate = DEFAULT_CONFIG.pause_gate
    result = {"machine": report.machine_info(), "gate": asdict(gate) if gate else None,
              "rows": rows}
    report.write_results(args.results_dir, "pause_gate", result, markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
