"""``python -m benchmarks.voice_change_misses``: why a speaker change is not ended in time.

With ``--voice-change`` a change of voice ends the turn when the VAD hears the first voice stop
inside a turn, speech resumes, and the new speech sounds like another voice (the pause check),
or, once the call's two voices are known (``VoiceProfiles``), when half a second of speech
sounds like the other voice, pause or not. This runs the two-party calls through a
``TurnSession`` with the speaker encoder (as ``benchmarks.voice_change`` does) and sorts every
speaker change that no ``EndOfTurn`` ended within 600 ms of the new voice
(``scoring.speaker_changes_ended``) by the first step of the pause check that failed, and counts
the missed changes that came before the call's two voices were known:

- **no turn open**: no turn was active when the new voice began (the previous one had ended
  early, or had not started);
- **no pause heard**: a turn was open but the VAD heard no stop-and-resume near the change
  (overlap, or a gap too short for its hysteresis);
- **too little to compare**: a resume was heard but the turn's speech before it (< 0.5 s) or
  the new speech (< 0.32 s) was too short;
- **same voice**: compared, and the similarity stayed above the threshold (the encoder took
  two voices for one); the similarities are listed;
- **changed, too late**: compared and found different, but after the 600 ms budget.

Diagnostic only (nothing is tuned). Writes ``results/voice_change_misses.{json,md}``.
"""

from __future__ import annotations

import argparse
import itertools
from collections import Counter
from pathlib import Path
from typing import Any

from benchmarks import natural_corpus, report, scoring
from benchmarks.corpus import Call
from benchmarks.voice_change import WITHIN_S, read_16k
from flux_cli.engine.detector import DEFAULT_CONFIG
from flux_cli.engine.voice_change import VoiceWatch

RESULTS = Path(__file__).with_name("results")
SR = 16000
NEAR_S = 0.35  # a resume this close to the new voice's onset is the change's
REASONS = ("ended", "no turn open", "no pause heard", "too little to compare", "same voice",
           "changed, too late")


class _RecordingWatch(VoiceWatch):
    """A ``VoiceWatch`` that also notes every resume, short window and comparison."""

    def __init__(self, watch: VoiceWatch) -> None:
        super().__init__(watch.encoder, watch.config)
        self.notes: list[tuple[str, float, float | None]] = []

    def resumed(self, pause_end: int, onset: int, turn_start: int) -> None:
        self.notes.append(("resumed", onset / SR, None))
        super().resumed(pause_end, onset, turn_start)

    def window(self) -> tuple[tuple[int, int], tuple[int, int]] | None:
        pending = self._pending
        found = super().window()
        if found is None and pending is not None:
            self.notes.append(("short", pending.onset / SR, None))
        return found

    def changed(self, before: Any, after: Any) -> bool:
        onset = self._pending.onset / SR if self._pending is not None else -1.0
        result = super().changed(before, after)
        self.notes.append(("changed" if result else "same", onset, self.last_similarity))
        return result


def run_call(engine: Any, call: Call) -> tuple[list[tuple[str, float, float | None]],
                                                list[tuple[str, float]], float | None]:
    """The watch's notes, the session's turn events (event, audio time) and when the call's
    two voices were first known (``VoiceProfiles``; None: never) for one call."""
    from flux_cli.engine.session import TurnSession
    from flux_cli.protocol import StreamParams, TurnInfo

    session = TurnSession(vad=engine.vad.new_stream(), transcriber=engine.transcriber,
                          smart_turn=engine.smart_turn, params=StreamParams(),
                          request_id="misses", speaker=engine.speaker,
                          voice_pauses=engine.voice_pauses)
    watch = _RecordingWatch(session._voice)  # the session's own watch, recording
    session._voice = watch
    audio = read_16k(call.path)
    out = list(session.start())
    known: float | None = None
    for pos in range(0, len(audio), 1280):
        out += session.feed(audio[pos: pos + 1280])
        profiles = session._profiles
        if known is None and profiles is not None and profiles.voices is not None:
            known = (pos + 1280) / SR
    events = [(m.event, m.audio_window_end) for m in out
              if isinstance(m, TurnInfo) and m.event in ("StartOfTurn", "EndOfTurn")]
    return watch.notes, events, known


def classify(call: Call, notes: list[tuple[str, float, float | None]],
             events: list[tuple[str, float]]) -> list[tuple[str, float | None]]:
    """Per speaker change: its reason (``REASONS``) and, when compared, the similarity."""
    ends = [t for e, t in events if e == "EndOfTurn"]
    out: list[tuple[str, float | None]] = []
    for turn, nxt in zip(call.turns, call.turns[1:], strict=False):
        if nxt.voice == turn.voice:
            continue
        ended, _, _ = scoring.speaker_changes_ended([turn, nxt], ends, WITHIN_S)
        if ended:
            out.append(("ended", None))
            continue
        near = [n for n in notes if abs(n[1] - nxt.start) <= NEAR_S]
        kinds = {n[0] for n in near}
        before = [e for e, t in events if t <= nxt.start]
        if "changed" in kinds:
            out.append(("changed, too late", next(n[2] for n in near if n[0] == "changed")))
        elif "same" in kinds:
            out.append(("same voice", next(n[2] for n in near if n[0] == "same")))
        elif "short" in kinds or "resumed" in kinds:
            out.append(("too little to compare", None))
        elif not before or before[-1] == "EndOfTurn":
            out.append(("no turn open", None))
        else:
            out.append(("no pause heard", None))
    return out


def run_set(engine: Any, name: str, split: str) -> dict[str, Any]:
    reasons: Counter[str] = Counter()
    same: list[float] = []
    by_pair: dict[str, Counter[str]] = {}
    unknown = 0  # missed changes that came before the call's two voices were known
    for call in natural_corpus.build(name, split):
        notes, events, known = run_call(engine, call)
        onsets = [b.start for a, b in itertools.pairwise(call.turns) if a.voice != b.voice]
        for onset, (reason, similarity) in zip(onsets, classify(call, notes, events),
                                               strict=True):
            unknown += reason != "ended" and (known is None or onset < known)
            reasons[reason] += 1
            by_pair.setdefault(call.voice, Counter())[reason] += 1
            if reason == "same voice" and similarity is not None:
                same.append(round(similarity, 3))
    return {"changes": sum(reasons.values()), "reasons": {r: reasons[r] for r in REASONS},
            "missed_before_voices_known": unknown,
            "by_voice_pair": {pair: {r: c[r] for r in REASONS} for pair, c in by_pair.items()},
            "same_voice_similarity_p50": scoring.percentile(same, 50), "similarities": same}


def markdown(rows: dict[str, Any], threshold: float, machine: dict[str, Any]) -> str:
    lines = ["# Why a speaker change is not ended in time (`--voice-change`)", "",
             f"`python -m benchmarks.voice_change_misses` on {machine.get('cpu', '?')}: every "
             "speaker change of the two-party mono calls, sorted by the first step that failed "
             f"(threshold {threshold}; a change is ended when an EndOfTurn comes within "
             f"{WITHIN_S * 1000:.0f} ms of the new voice).", "",
             "| set / split | changes | " + " | ".join(REASONS) + " | similarity of the "
             "missed 'same voice' (p50) | missed before the call's two voices were known |",
             "|---|---|" + "---|" * (len(REASONS) + 2)]
    for key, r in rows.items():
        n = r["changes"]
        cells = [f"{r['reasons'][k]} ({r['reasons'][k] / n:.0%})" for k in REASONS]
        p50 = r["same_voice_similarity_p50"]
        missed = n - r["reasons"]["ended"]
        lines.append(f"| {key} | {n} | " + " | ".join(cells)
                     + f" | {'-' if p50 is None else f'{p50:.2f}'} | "
                     f"{r['missed_before_voices_known']} of {missed} |")
    for key, r in rows.items():
        pairs = r["by_voice_pair"]
        if len(pairs) > 1:
            lines += ["", f"{key}, by pair of voices: " + "; ".join(
                f"{pair.replace(',', ' + ')}: {c['ended']} of {sum(c.values())} ended, "
                f"{c['same voice']} judged one voice, {c['no pause heard']} with no pause heard"
                for pair, c in sorted(pairs.items())) + "."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from flux_cli.engine.models.loader import load_engine

    p = argparse.ArgumentParser(prog="python -m benchmarks.voice_change_misses")
    p.add_argument("--sets", default="twoparty_close,twoparty,twoparty_overlap,unseen_twoparty")
    p.add_argument("--splits", default="test")
    p.add_argument("--results-dir", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    engine = load_engine(voice_change=True)
    rows = {f"{name} / {split}": run_set(engine, name, split)
            for name in args.sets.split(",") for split in args.splits.split(",")}
    threshold = DEFAULT_CONFIG.voice_change.threshold
    machine = report.machine_info()
    report.write_results(args.results_dir, "voice_change_misses",
                         {"machine": machine, "threshold": threshold, "sets": rows},
                         markdown(rows, threshold, machine))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
