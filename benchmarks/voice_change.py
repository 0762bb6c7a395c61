"""``python -m benchmarks.voice_change``: do turns end where another voice starts (mono calls)?

Held-out two-party calls only (``natural_corpus`` set ``twoparty_close``: the real Asterisk
voice and hibari's neural voice taking turns with 0-300 ms gaps, test split), plus the
one-voice held-out sets (``real``, ``neural``) for the cost: false cut-offs in pauses inside a
turn. Each call goes through a ``TurnSession`` with the real models in this process, at audio
time (decisions do not depend on pacing), once per ``--encoder``: ``off`` (no voice listened
to), ``call`` (the call's voices: the engine's default), ``on`` (and the pause check:
``--voice-change``), ``pauses`` (the pause check alone).

A speaker change is a labelled turn followed by another voice's turn; it is "ended" when an
``EndOfTurn`` comes between the first turn's end (- 150 ms) and 600 ms after the second
voice's onset. Results: ``benchmarks/results/voice_change.{json,md}``.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import corpus, eot_train, natural_corpus, scoring
from benchmarks.corpus import Call

RESULTS = Path(__file__).with_name("results")
WITHIN_S = 0.6
SETS = ("twoparty_close", "real", "neural")


def read_16k(path: Path) -> np.ndarray:
    import soundfile as sf
    import soxr

    audio, rate = sf.read(path, dtype="float32")
    if rate != 16000:
        audio = soxr.resample(audio, rate, 16000)
    return np.asarray(audio, dtype=np.float32)


@dataclass(frozen=True)
class EndEvent:
    """An EndOfTurn as the benchmark reads it: when it came, where its turn began, and whether
    the next turn had already begun before it (a turn another voice ended: the engine hands
    over at that voice's onset, which lies before the moment it decides)."""

    at: float
    turn_start: float
    taken_over: bool


def end_events(engine: Any, call: Call, speaker: Any, config: Any = None,
               voice_pauses: bool = False) -> list[EndEvent]:
    from flux_cli.engine.detector import DEFAULT_CONFIG
    from flux_cli.engine.session import TurnSession
    from flux_cli.protocol import StreamParams, TurnInfo

    session = TurnSession(vad=engine.vad.new_stream(), transcriber=engine.transcriber,
                          smart_turn=engine.smart_turn, params=StreamParams(),
                          request_id="voice", speaker=speaker, config=config or DEFAULT_CONFIG,
                          voice_pauses=voice_pauses)
    audio, session.phone_line = eot_train.engine_audio(call.path)  # as the server hears it
    out = list(session.start())
    for pos in range(0, len(audio), 1280):
        out += session.feed(audio[pos: pos + 1280])
    infos = [m for m in out if isinstance(m, TurnInfo)]
    ends = []
    for i, m in enumerate(infos):
        if m.event != "EndOfTurn":
            continue
        nxt = next((n for n in infos[i + 1:] if n.event == "StartOfTurn"), None)
        ends.append(EndEvent(m.audio_window_end, m.audio_window_start,
                             nxt is not None and nxt.audio_window_start < m.audio_window_end))
    return ends


TURN_KINDS = ("own_turn", "merged", "later")
CUT_KINDS = (*TURN_KINDS, "taken_over")
OWN_START_S = 0.3  # a turn that began this close to the labelled turn's start is its own


def _turn_kind(label_start: float, turn_start: float) -> str:
    if abs(turn_start - label_start) <= OWN_START_S:
        return "own_turn"
    return "merged" if turn_start < label_start else "later"


def cut_kinds(call: Call, ends: list[EndEvent]) -> dict[str, int]:
    """Each labelled pause that an EndOfTurn cut, by that end: another voice's (``taken_over``:
    a change found late, inside the new voice's first pause), or the end-of-turn model's in a
    turn that began with the labelled one (``own_turn``), before it (``merged``: across a
    change or an earlier turn), or after it (``later``: after an earlier cut of the same turn).
    Also, as ``pauses_in_<kind>``, every labelled pause by the engine's turn open when it began
    (the first to end after it), cut or not: the rates' denominators."""
    counts = dict.fromkeys(CUT_KINDS, 0) | {f"pauses_in_{k}": 0 for k in TURN_KINDS}
    for turn in call.turns:
        for a, b in turn.pauses:
            open_turn = next((e for e in ends if e.at >= a - scoring.EARLY), None)
            if open_turn is not None and open_turn.turn_start <= a:
                counts[f"pauses_in_{_turn_kind(turn.start, open_turn.turn_start)}"] += 1
            hit = next((e for e in ends
                        if a - scoring.EARLY <= e.at <= b + scoring.DEFAULT_SLACK), None)
            if hit is not None:
                kind = "taken_over" if hit.taken_over else _turn_kind(turn.start, hit.turn_start)
                counts[kind] += 1
    return counts


def changes_ended(call: Call, ends: list[float], *, overlapping: bool = False
                  ) -> tuple[int, int, list[float]]:
    """(ended within WITHIN_S of the new voice's onset, changes, latencies from the onset);
    ``overlapping``: only the changes where the new voice starts before the last one stops."""
    return scoring.speaker_changes_ended(call.turns, ends, WITHIN_S, overlapping=overlapping)


LATE_S = 1.2  # an end inside speech this soon after a new voice began is a late change end


def ends_inside_speech(call: Call, ends: list[float], *, late_only: bool = False) -> int:
    """End events inside one voice's speech (not at a labelled end, in a pause, or within
    ``WITHIN_S`` of a new voice's onset, where ending is right): what a voice check does when it
    takes one voice for two, ~0.5 s into the resumed speech, past the pause's scoring window.
    ``late_only``: of those, the ones within ``LATE_S`` of a new voice's onset (a change found
    late, not one voice taken for two)."""
    count = 0
    for t in ends:
        for i, turn in enumerate(call.turns):
            if not turn.start < t < turn.end - scoring.EARLY:
                continue
            if any(a - scoring.EARLY <= t <= b + scoring.DEFAULT_SLACK for a, b in turn.pauses):
                continue
            changed = i > 0 and call.turns[i - 1].voice != turn.voice
            if not (changed and t <= turn.start + WITHIN_S):
                count += not late_only or (changed and t <= turn.start + LATE_S)
    return count


def run_set(engine: Any, name: str, speaker: Any, cache: Path, config: Any = None,
            split: str = "test", voice_pauses: bool = False) -> dict[str, Any]:
    from benchmarks.eot_train import set_calls

    calls = set_calls(name, split, cache)
    score = scoring.TurnScore()
    ok = total = inside = late = overlap_ok = overlaps = 0
    latencies: list[float] = []
    audio_s = 0.0
    kinds: dict[str, int] = {}
    for call in calls:
        events = end_events(engine, call, speaker, config, voice_pauses)
        ends = [e.at for e in events]
        for kind, n in cut_kinds(call, events).items():
            kinds[kind] = kinds.get(kind, 0) + n
        score.add(scoring.score_turns(call.turns, ends))
        inside += ends_inside_speech(call, ends)
        late += ends_inside_speech(call, ends, late_only=True)
        a, b, lat = changes_ended(call, ends)
        ok, total, latencies = ok + a, total + b, latencies + lat
        a, b, _ = changes_ended(call, ends, overlapping=True)
        overlap_ok, overlaps = overlap_ok + a, overlaps + b
        audio_s += call.duration
    return {
        "calls": len(calls), "audio_s": audio_s, "changes": total, "changes_ended": ok,
        "change_rate": ok / total if total else None,
        "overlapping_changes": overlaps, "overlapping_changes_ended": overlap_ok,
        "change_latency_p50": scoring.percentile(latencies, 50),
        "pauses": score.pauses, "false_cutoffs": score.false_cutoff_rate,
        # As bad as a cut-off for an agent (``ends_inside_speech``), so charged as one.
        "ends_in_speech": inside,
        "late_change_ends": late,  # of ends_in_speech: within LATE_S of a new voice
        "false_cutoffs_or_in_speech": ((score.pauses_cut + inside) / score.pauses
                                       if score.pauses else None),
        "cut_kinds": kinds,  # the pauses cut, by what ended the turn (``cut_kinds``)
        "missed": score.missed_rate,
        "eot_p50": scoring.percentile(score.latencies, 50),
        "eot_p90": scoring.percentile(score.latencies, 90),
    }


@dataclass(frozen=True)
class Reference:
    """The voice the resumed speech is compared with (offline only; the engine uses "last").

    "last": the last ``reference_s`` before the gap, compared as the engine does
    (``SpeakerEncoder.similarity``); "turn": the raw cosine with the normalised mean of that
    and of the turn's whole ``reference_s`` pieces on a grid from its start (+ ``skip_s``), the
    last ``pieces`` of them if set. Measured in ``results/voice_change_reference.md`` (before
    the background was subtracted)."""

    kind: str = "last"
    pieces: int = 0
    skip_s: float = 0.0


def _unit(v: np.ndarray) -> np.ndarray:
    n = float(np.linalg.norm(v))
    return v / n if n > 0 else v


def similarities(encoder: Any, calls: list[Call], reference: Reference | None = None
                 ) -> tuple[list[float], list[float]]:
    """(cosines across speaker changes, cosines across same-voice pauses), as the engine
    compares them: the reference before the gap against ``check_s`` after it."""
    from flux_cli.engine.models.speaker import cosine
    from flux_cli.engine.voice_change import VoiceChangeConfig

    c = VoiceChangeConfig()
    r = reference or Reference()
    change: list[float] = []
    same: list[float] = []

    def piece(audio: np.ndarray, start: float, end: float) -> np.ndarray:
        return audio[round(start * 16000): round(end * 16000)]

    def embed(audio: np.ndarray, start: float, end: float) -> np.ndarray:
        return np.asarray(encoder.embed(piece(audio, start, end)))

    def compare(audio: np.ndarray, start: float, end: float, after: float) -> float:
        if r.kind == "last":  # as the engine compares them
            return float(encoder.similarity(piece(audio, max(start, end - c.reference_s), end),
                                            piece(audio, after, after + c.check_s)))
        ref = embed(audio, max(start, end - c.reference_s), end)
        if r.kind == "turn":
            grid = np.arange(start + r.skip_s, end - c.reference_s + 1e-9, c.reference_s)
            pieces = [embed(audio, g, g + c.reference_s) for g in grid]
            chosen = pieces[-r.pieces:] if r.pieces > 0 else pieces
            ref = _unit(np.mean([_unit(e) for e in [*chosen, ref]], axis=0))
        return cosine(ref, embed(audio, after, after + c.check_s))

    for call in calls:
        audio = read_16k(call.path)
        for turn, nxt in itertools.pairwise(call.turns):
            if nxt.voice != turn.voice and turn.end - turn.start >= c.min_reference_s:
                change.append(compare(audio, turn.start, turn.end, nxt.start))
        for turn in call.turns:
            for a, b in turn.pauses:
                if a - turn.start >= c.min_reference_s and turn.end - b >= c.min_check_s:
                    same.append(compare(audio, turn.start, a, b))
    return change, same


def auc(change: list[float], same: list[float]) -> float:
    """P(a same-voice cosine > a change cosine): how well the reference separates them."""
    from benchmarks.auc import roc_auc

    return roc_auc(np.array([*same, *change]), np.array([1] * len(same) + [0] * len(change)))


def calibrate(encoder: Any, cache: Path, budget: float = 0.05,
              reference: Reference | None = None) -> dict[str, Any]:
    """The threshold on the *train* split: the highest that calls at most ``budget`` of the
    same-voice pauses a change (cosine below it)."""
    calls = natural_corpus.build("twoparty_close", "train", cache)
    change, same = similarities(encoder, calls, reference)
    ordered = sorted(same)
    threshold = ordered[int(budget * len(ordered))] if ordered else 0.5
    caught = sum(x < threshold for x in change) / max(len(change), 1)
    return {"threshold": round(threshold, 3), "same_voice_pauses": len(same),
            "changes": len(change), "changes_below": round(caught, 3),
            "auc": round(auc(change, same), 3),
            "same_p50": scoring.percentile(same, 50), "change_p50": scoring.percentile(change, 50)}


RAW_THRESHOLD = 0.5  # raw cosines' threshold (chosen by --calibrate before the background)


def raw_encoder() -> Any:
    """The speaker encoder comparing raw cosines (no background subtracted)."""
    from flux_cli.engine.models.speaker import SpeakerEncoder

    return SpeakerEncoder(background=None)


def voice_config(threshold: float | None, *, pauses_only: bool = False) -> Any:
    """The detector config, with the voice check's threshold overridden if given;
    ``pauses_only``: without the call's voices (``voice_profiles``), as before they were."""
    from dataclasses import replace

    from flux_cli.engine.detector import DEFAULT_CONFIG

    voice = DEFAULT_CONFIG.voice_change
    if threshold is not None:
        voice = replace(voice, threshold=threshold)
    if pauses_only:
        voice = replace(voice, profiles=None)
    return replace(DEFAULT_CONFIG, voice_change=voice)


def with_profile(config: Any, settings: list[str]) -> Any:
    """``config`` with the call's voices' settings ``KEY=VALUE`` changed (``None``: none)."""
    from dataclasses import fields, replace

    profiles = config.voice_change.profiles
    if not settings or profiles is None:
        return config
    kinds = {f.name: f.type for f in fields(profiles)}
    changes: dict[str, Any] = {}
    for item in settings:
        key, _, text = item.partition("=")
        if key not in kinds:
            raise SystemExit(f"--profile: no setting {key!r} (one of {', '.join(kinds)})")
        kind = str(kinds[key])
        changes[key] = (None if text == "None" else int(text) if kind == "int"
                        else float(text))
    voice = replace(config.voice_change, profiles=replace(profiles, **changes))
    return replace(config, voice_change=voice)


def table(rows: list[dict[str, Any]]) -> str:
    out = ["| set | speaker encoder | calls | changes ended within 600 ms | p50 from onset | "
           "false cut-offs | ends inside speech (of those, a change found late) | cut-offs + "
           "ends inside speech | missed ends | EOT p50 | p90 |",
           "|---|---|---|---|---|---|---|---|---|---|---|"]

    def ms(x: float | None) -> str:
        return "-" if x is None else f"{x * 1000:.0f} ms"

    for r in rows:
        rate = "-" if r["change_rate"] is None else (
            f"{r['change_rate']:.0%} ({r['changes_ended']}/{r['changes']})")
        if r.get("overlapping_changes"):
            rate += (f"; of those overlapping {r['overlapping_changes_ended']}/"
                     f"{r['overlapping_changes']}")
        out.append(f"| {r['set']} | {r['encoder']} | {r['calls']} | {rate} | "
                   f"{ms(r['change_latency_p50'])} | {r['false_cutoffs']:.1%} of {r['pauses']} | "
                   f"{r['ends_in_speech']} ({r.get('late_change_ends', '-')}) | "
                   f"{r['false_cutoffs_or_in_speech']:.1%} | "
                   f"{r['missed']:.1%} | {ms(r['eot_p50'])} | {ms(r['eot_p90'])} |")
    return "\n".join(out)


def cut_table(rows: list[dict[str, Any]]) -> str:
    """The false cut-offs of each row by what ended the turn there (``cut_kinds``)."""
    out = ["| set | speaker encoder | pauses cut | the model, in a turn that began with the "
           "labelled one | the model, in a turn begun before it (merged) | the model, after an "
           "earlier cut of it | another voice found late (taken over) |",
           "|---|---|---|---|---|---|---|"]

    def rate(k: dict[str, int], kind: str) -> str:
        n = k.get(f"pauses_in_{kind}", 0)
        return f"{k[kind]} of {n}" + (f" ({k[kind] / n:.0%})" if n else "")

    for r in rows:
        k = r.get("cut_kinds")
        if k is None:
            continue
        cut = sum(k[kind] for kind in CUT_KINDS)
        out.append(f"| {r['set']} | {r['encoder']} | {cut} of {r['pauses']} | "
                   f"{rate(k, 'own_turn')} | {rate(k, 'merged')} | {rate(k, 'later')} | "
                   f"{k['taken_over']} |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.voice_change")
    p.add_argument("--cache-dir", type=Path, default=corpus.DEFAULT_CACHE)
    p.add_argument("--sets", default=",".join(SETS))
    p.add_argument("--encoder", default="off,call,on",
                   help="comma-separated: off (--no-voice-change), call (the call's voices: "
                   "the engine's default), on (the call's voices and the pause check: "
                   "--voice-change), pauses (the pause check alone), raw (pauses only, raw "
                   f"cosines, no background subtracted, threshold {RAW_THRESHOLD})")
    p.add_argument("--calibrate", action="store_true",
                   help="only print the threshold chosen on the train split")
    p.add_argument("--reference", choices=("last", "turn"), default="last",
                   help="--calibrate only: the voice reference (see Reference)")
    p.add_argument("--turn-pieces", type=int, default=0,
                   help="--calibrate --reference turn: the last N pieces only")
    p.add_argument("--threshold", type=float, help="cosine threshold (default: the config's)")
    p.add_argument("--profile", action="append", default=[], metavar="KEY=VALUE",
                   help="a setting of the call's voices (ProfileConfig), e.g. own_blocks=3; "
                   "for trying settings on the train splits")
    p.add_argument("--out", default="voice_change", help="results file stem")
    p.add_argument("--split", default="test",
                   help="test (reported), or train (where the voice check's settings were chosen)")
    args = p.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from flux_cli.engine.models.loader import load_engine, load_speaker_encoder

    engine = load_engine(asr_threads=2, asr_workers=1)
    encoder = load_speaker_encoder()
    if encoder is None and (args.encoder.strip(",") != "off" or args.calibrate):
        raise SystemExit("the speaker encoder's weights are not installed")
    config = with_profile(voice_config(args.threshold), args.profile)
    if args.calibrate:
        reference = Reference(args.reference, args.turn_pieces)
        print(json.dumps(calibrate(encoder, args.cache_dir, reference=reference), indent=1))
        return
    rows = []
    for name in [s for s in args.sets.split(",") if s]:
        for label in args.encoder.split(","):
            speaker, chosen = None if label == "off" else encoder, config
            if label == "pauses":
                chosen = voice_config(args.threshold, pauses_only=True)
            if label == "raw":  # the comparison before the background: raw cosines
                speaker = raw_encoder()
                chosen = voice_config(args.threshold or RAW_THRESHOLD, pauses_only=True)
            start = time.monotonic()
            row = run_set(engine, name, speaker, args.cache_dir, chosen, args.split,
                          voice_pauses=label in ("on", "pauses", "raw"))
            row.update({"set": name, "encoder": label, "seconds": time.monotonic() - start})
            rows.append(row)
            print(f"[voice_change] {name} encoder {label}: {row}", file=sys.stderr, flush=True)
    RESULTS.mkdir(exist_ok=True)
    result = {"command": "python -m benchmarks.voice_change " + " ".join(argv or sys.argv[1:]),
              "load_avg": os.getloadavg(), "voice_change": dataclasses.asdict(config.voice_change),
              "rows": rows}
    (RESULTS / f"{args.out}.json").write_text(json.dumps(result, indent=1) + "\n")
    split = "held-out sets only (test splits)" if args.split == "test" else (
        f"the {args.split} splits, where the settings were chosen (not a result)")
    md = ("# Turns that end where another voice starts\n\n"
          f"`{result['command']}`: {split}, in-process, audio time. "
          "A change counts as ended when an EndOfTurn comes before the new voice has spoken "
          "600 ms.\n\n" + table(rows) + "\n\n"
          "False cut-offs by what ended the turn there (a turn another voice ended is one whose "
          "next turn began before its EndOfTurn came):\n\n" + cut_table(rows) + "\n")
    (RESULTS / f"{args.out}.md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()
