"""``python -m benchmarks.voice_change_misses``: why a speaker change is not ended in time.

By default the engine listens to the call's voices (``VoiceProfiles``): once it has heard two
voices, a block of speech that sounds like the other one ends the turn, pause or not. This runs
the two-party calls through a ``TurnSession`` with the speaker encoder (as
``benchmarks.voice_change`` does) and sorts every speaker change that no ``EndOfTurn`` ended
within 600 ms of the new voice (``scoring.speaker_changes_ended``) by the first reason that
applies:

- **voices not known yet**: the change came before the call's two voices were found;
- **no turn open**: no turn was active when the new voice began;
- **found late**: an EndOfTurn came 0.6-1.5 s after the new voice began (a block judged it
  another voice, too late for the budget);
- **not judged**: no block near the change (0.2 s before its onset to 0.6 s after) was compared
  with the call's voices: the turn was too young to know its own voice, or no block was speech;
- **judged the same voice**: blocks were compared and none sounded like the other voice.

With ``--voice-change`` the pause check is on too, and a second table sorts the same misses by
the step of the pause check that failed:

- **no pause heard**: a turn was open but the VAD heard no stop-and-resume near the change;
- **too little to compare**: a resume was heard but the speech before it (< 0.5 s) or after it
  (< 0.32 s) was too short;
- **same voice**: compared, and the similarity stayed above the threshold;
- **changed, too late**: compared and found different, but after the 600 ms budget.

Diagnostic only (nothing is tuned). Writes ``results/voice_change_misses.{json,md}`` (or
``voice_change_misses_voice_change.*`` with ``--voice-change``).
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
from flux_cli.engine.voice_profiles import ProfileConfig, VoiceProfiles

RESULTS = Path(__file__).with_name("results")
SR = 16000
NEAR_S = 0.35  # a resume this close to the new voice's onset is the change's
REASONS = ("ended", "no turn open", "no pause heard", "too little to compare", "same voice",
           "changed, too late")
VOICE_REASONS = ("ended", "voices not known yet", "no turn open", "found late", "not judged",
                 "judged the same voice")
LATE_S = 1.5  # an end this long after the new voice began is the change found late


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


class _RecordingProfiles(VoiceProfiles):
    """``VoiceProfiles`` that also note every block judged: (where the voice before it ended,
    in s; judged another voice)."""

    def __init__(self, config: ProfileConfig) -> None:
        super().__init__(config)
        self.judged: list[tuple[float, bool]] = []

    def other_voice(self, vector: Any, before: int, since: int | None = None,
                    *, dip: bool = False) -> bool:
        other = super().other_voice(vector, before, since, dip=dip)
        self.judged.append((before / SR, other))
        return other


Notes = list[tuple[str, float, float | None]]


def run_call(engine: Any, call: Call) -> tuple[Notes, list[tuple[float, bool]],
                                                list[tuple[str, float]], float | None]:
    """For one call: the pause check's notes, every block judged against the call's voices
    (where the voice before it ended, in s; judged another voice), the session's turn events
    (event, audio time) and when the call's two voices were first known (None: never)."""
    from flux_cli.engine.session import TurnSession
    from flux_cli.protocol import StreamParams, TurnInfo

    session = TurnSession(vad=engine.vad.new_stream(), transcriber=engine.transcriber,
                          smart_turn=engine.smart_turn, params=StreamParams(),
                          request_id="misses", speaker=engine.speaker,
                          voice_pauses=engine.voice_pauses)
    watch = _RecordingWatch(session._voice)  # the session's own watch, recording
    session._voice = watch
    profiles = None  # the session's own (still empty) profiles, recording
    if session._profiles is not None:
        profiles = session._profiles = _RecordingProfiles(session._profiles.config)
    audio = read_16k(call.path)
    out = list(session.start())
    known: float | None = None
    for pos in range(0, len(audio), 1280):
        out += session.feed(audio[pos: pos + 1280])
        if known is None and profiles is not None and profiles.voices is not None:
            known = (pos + 1280) / SR
    events = [(m.event, m.audio_window_end) for m in out
              if isinstance(m, TurnInfo) and m.event in ("StartOfTurn", "EndOfTurn")]
    return watch.notes, [] if profiles is None else profiles.judged, events, known


def classify_voices(call: Call, judged: list[tuple[float, bool]],
                    events: list[tuple[str, float]], known: float | None) -> list[str]:
    """Per speaker change: the first reason (``VOICE_REASONS``) the call's voices missed it."""
    ends = [t for e, t in events if e == "EndOfTurn"]
    out: list[str] = []
    for turn, nxt in itertools.pairwise(call.turns):
        if nxt.voice == turn.voice:
            continue
        before = [e for e, t in events if t <= nxt.start]
        if scoring.speaker_changes_ended([turn, nxt], ends, WITHIN_S)[0]:
            out.append("ended")
        elif known is None or nxt.start < known:
            out.append("voices not known yet")
        elif not before or before[-1] == "EndOfTurn":
            out.append("no turn open")
        elif any(nxt.start + WITHIN_S < t <= nxt.start + LATE_S for t in ends):
            out.append("found late")
        elif not any(nxt.start - 0.2 <= t <= nxt.start + WITHIN_S for t, _ in judged):
            out.append("not judged")
        else:
            out.append("judged the same voice")
    return out


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
    voice_reasons: Counter[str] = Counter()
    same: list[float] = []
    by_pair: dict[str, Counter[str]] = {}
    for call in natural_corpus.build(name, split):
        notes, judged, events, known = run_call(engine, call)
        voice_reasons.update(classify_voices(call, judged, events, known))
        for reason, similarity in classify(call, notes, events):
            reasons[reason] += 1
            by_pair.setdefault(call.voice, Counter())[reason] += 1
            if reason == "same voice" and similarity is not None:
                same.append(round(similarity, 3))
    return {"changes": sum(reasons.values()),
            "voices": {r: voice_reasons[r] for r in VOICE_REASONS},
            "reasons": {r: reasons[r] for r in REASONS},
            "by_voice_pair": {pair: {r: c[r] for r in REASONS} for pair, c in by_pair.items()},
            "same_voice_similarity_p50": scoring.percentile(same, 50), "similarities": same}


def markdown(rows: dict[str, Any], pauses: bool, machine: dict[str, Any]) -> str:
    flag = " --voice-change" if pauses else ""
    engine = "`--voice-change`" if pauses else "the default engine"
    lines = [f"# Why a speaker change is not ended in time ({engine})", "",
             f"`python -m benchmarks.voice_change_misses{flag}` on {machine.get('cpu', '?')}: "
             "every speaker change of the two-party mono calls that no EndOfTurn ended within "
             f"{WITHIN_S * 1000:.0f} ms of the new voice, by the first reason that applies "
             "(the module's docstring defines them).", "",
             "## The call's voices", "",
             "| set / split | changes | " + " | ".join(VOICE_REASONS) + " |",
             "|---|---|" + "---|" * len(VOICE_REASONS)]
    for key, r in rows.items():
        n = r["changes"]
        lines.append(f"| {key} | {n} | " + " | ".join(
            f"{r['voices'][k]} ({r['voices'][k] / n:.0%})" for k in VOICE_REASONS) + " |")
    if not pauses:
        return "\n".join(lines) + "\n"
    lines += ["", "## The pause check", "",
              "| set / split | changes | " + " | ".join(REASONS) + " | similarity of the "
              "missed 'same voice' (p50) |", "|---|---|" + "---|" * (len(REASONS) + 1)]
    for key, r in rows.items():
        n = r["changes"]
        cells = [f"{r['reasons'][k]} ({r['reasons'][k] / n:.0%})" for k in REASONS]
        p50 = r["same_voice_similarity_p50"]
        lines.append(f"| {key} | {n} | " + " | ".join(cells)
                     + f" | {'-' if p50 is None else f'{p50:.2f}'} |")
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
    p.add_argument("--voice-change", action="store_true",
                   help="the pause check too, and a table of its misses")
    p.add_argument("--results-dir", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    engine = load_engine(voice_change=True if args.voice_change else None)
    rows = {f"{name} / {split}": run_set(engine, name, split)
            for name in args.sets.split(",") for split in args.splits.split(",")}
    machine = report.machine_info()
    stem = "voice_change_misses" + ("_voice_change" if args.voice_change else "")
    report.write_results(args.results_dir, stem,
                         {"machine": machine, "voice_change": args.voice_change,
                          "threshold": DEFAULT_CONFIG.voice_change.threshold, "sets": rows},
                         markdown(rows, args.voice_change, machine))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
