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

A second table splits the changes at the moment the call's two voices were first known, and
sets beside them a **ceiling**: the same rule (a block of the last 0.48 s sounding like the
other voice by the margin, ``ProfileConfig.margin``) given the call's two voices from the labels
from the first second (each the mean of that voice's blocks over the whole call, as
``benchmarks.voice_profiles`` cuts them), judged every 32 ms from the new voice's first 0.48 s
to 600 ms after it began; and how often it would take a block inside one voice's turn (from 1 s
after the turn began, on a 96 ms grid) for the other voice. What is left between the engine's
share after its voices are known and the ceiling is what its own voices miss; what is below the
ceiling is what half a second of GE2E cannot tell apart even with the voices known.

With ``--voice-change`` the pause check is on too, and a third table sorts the same misses by
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
from collections.abc import Callable
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


CEILING_STEP_S = 0.032  # the ceiling judges the new voice's blocks this often (a VAD window)
SAME_STEP_S = 0.096  # ... and one voice's blocks this often (the engine's judge_hop_s)


def ceiling(engine: Any, call: Call) -> dict[str, int]:
    """The call's voices from its labels (the module docstring): changes the margin finds
    within ``WITHIN_S``, and one voice's blocks it takes for the other."""

    from benchmarks.voice_profiles import blocks, speech_flags, voice_of
    from flux_cli.engine.interfaces import VAD_WINDOW
    from flux_cli.engine.voice_profiles import unit

    config = ProfileConfig()
    encoder = engine.speaker
    data = blocks(call, engine, encoder)
    labels = [voice_of(call, end / SR - config.block_s, end / SR) for end in data["ends"]]
    voices = {v: unit(data["vectors"][[i for i, x in enumerate(labels) if x == v]].mean(axis=0))
              for v in {x for x in labels if x is not None}}
    audio = read_16k(call.path)
    audio = audio[: len(audio) // VAD_WINDOW * VAD_WINDOW]
    flags = speech_flags(engine.vad.new_stream().process(audio))

    def margin(end_s: float, own: str, other: str) -> float | None:
        """The other voice's cosine less the own voice's, for the block ending at ``end_s``."""
        start, end = round((end_s - config.block_s) * SR), round(end_s * SR)
        if start < 0 or end > len(audio) or (
                flags[start // VAD_WINDOW: end // VAD_WINDOW].mean() < config.min_speech):
            return None
        x = encoder.voice_vector(audio[start:end])
        return float(x @ voices[other] - x @ voices[own])

    return ceiling_counts(call, margin, set(voices), config)


def ceiling_counts(call: Call, margin: Callable[[float, str, str], float | None],
                   voices: set[str], config: ProfileConfig) -> dict[str, int]:
    """With ``margin(block end in s, own voice, other voice)`` (None: the block is not speech
    enough): the changes found within ``WITHIN_S`` of the new voice, and the blocks inside one
    voice's turn (from 1 s after it began) taken for the other."""
    import numpy as np

    out = {"changes": 0, "found": 0, "same_blocks": 0, "same_fired": 0}
    for turn, nxt in itertools.pairwise(call.turns):
        if nxt.voice == turn.voice or not {turn.voice, nxt.voice} <= voices:
            continue
        out["changes"] += 1
        ends = np.arange(nxt.start + config.block_s, nxt.start + WITHIN_S + 1e-6, CEILING_STEP_S)
        found = (margin(float(t), turn.voice, nxt.voice) for t in ends)
        out["found"] += any(m is not None and m > config.margin for m in found)
    for turn in call.turns:
        others = [v for v in voices if v != turn.voice]
        if turn.voice not in voices or not others:
            continue
        for t in np.arange(turn.start + 1.0, turn.end - 0.3, SAME_STEP_S):
            m = margin(float(t), turn.voice, others[0])
            if m is not None:
                out["same_blocks"] += 1
                out["same_fired"] += m > config.margin
    return out


def known_split(call: Call, events: list[tuple[str, float]], known: float | None
                ) -> dict[str, int]:
    """The changes before and after the call's two voices were first known, and how many of
    each were ended within ``WITHIN_S``."""
    ends = [t for e, t in events if e == "EndOfTurn"]
    out = {"before": 0, "before_ended": 0, "after": 0, "after_ended": 0}
    for turn, nxt in itertools.pairwise(call.turns):
        if nxt.voice == turn.voice:
            continue
        side = "before" if known is None or nxt.start < known else "after"
        out[side] += 1
        out[f"{side}_ended"] += scoring.speaker_changes_ended([turn, nxt], ends, WITHIN_S)[0]
    return out


def run_set(engine: Any, name: str, split: str) -> dict[str, Any]:
    reasons: Counter[str] = Counter()
    voice_reasons: Counter[str] = Counter()
    same: list[float] = []
    by_pair: dict[str, Counter[str]] = {}
    split_counts: Counter[str] = Counter()
    bound: Counter[str] = Counter()
    known_at: list[float] = []
    calls = natural_corpus.build(name, split)
    for call in calls:
        notes, judged, events, known = run_call(engine, call)
        voice_reasons.update(classify_voices(call, judged, events, known))
        split_counts.update(known_split(call, events, known))
        bound.update(ceiling(engine, call))
        if known is not None:
            known_at.append(known)
        for reason, similarity in classify(call, notes, events):
            reasons[reason] += 1
            by_pair.setdefault(call.voice, Counter())[reason] += 1
            if reason == "same voice" and similarity is not None:
                same.append(round(similarity, 3))
    return {"changes": sum(reasons.values()),
            "voices": {r: voice_reasons[r] for r in VOICE_REASONS},
            "reasons": {r: reasons[r] for r in REASONS},
            "by_voice_pair": {pair: {r: c[r] for r in REASONS} for pair, c in by_pair.items()},
            "same_voice_similarity_p50": scoring.percentile(same, 50), "similarities": same,
            "known": dict(split_counts), "ceiling": dict(bound),
            "known_at_p50_s": scoring.percentile(known_at, 50),
            "never_known": len(calls) - len(known_at)}


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
    lines += ["", "## Before and after the call's voices are known, and the ceiling", "",
              "| set / split | voices first known (p50 into a call) | changes before: ended | "
              "changes after: ended | ceiling: ended within 600 ms | ceiling: one voice's "
              "blocks taken for the other |", "|---|---|---|---|---|---|"]
    for key, r in rows.items():
        k, c = r["known"], r["ceiling"]
        p50, never = r["known_at_p50_s"], r["never_known"]
        when = "-" if p50 is None else f"{p50:.1f} s"
        lines.append(
            f"| {key} | {when}{f' ({never} calls never)' if never else ''} | "
            f"{_share(k['before_ended'], k['before'])} | {_share(k['after_ended'], k['after'])} | "
            f"{_share(c['found'], c['changes'])} | "
            f"{_share(c['same_fired'], c['same_blocks'], 2)} |")
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


def _share(part: int, whole: int, digits: int = 0) -> str:
    return f"{part} of {whole} ({part / whole:.{digits}%})" if whole else "-"


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
