"""``python -m benchmarks.voice_profiles``: how the call's voices were chosen as the voice check
mid-speech (``flux_cli/engine/voice_profiles.py``), on train splits only.

Every call is cut as the engine cuts it: the VAD's speech windows (its hysteresis), and every
0.16 s a block of the last 0.48 s when at least 80% of it is speech, embedded as the engine does
(``SpeakerEncoder.voice_vector``; cached under ``~/.cache/flux-bench/voice-blocks``). Then:

1. **Separation** (``twoparty_close`` train): for blocks that end 0.40-0.58 s after a new voice
   began (a change) and blocks inside one voice's speech, the ROC AUC of three ways to say
   "this block is another voice": its similarity to the 1.5 s of speech before the block (what
   the pause check compares), to the mean of the previous voice's earlier blocks, and the margin
   between the call's two voices taken from the labels (the mean of each voice's earlier blocks):
   the ceiling of what knowing the call's voices buys.
2. **The rule, online** (no labels): ``VoiceProfiles`` fed the blocks in order, its groups
   refitted as the engine does, over a grid of how often it refits while the two voices are
   not known (``refit_early``) x ``separation`` x ``min_run`` x ``min_blocks`` x ``margin``;
   a change counts as found when ``changed`` fires between the last turn's end (- 150 ms) and
   600 ms after the new voice began; "false" is a firing with no change in the 1.2 s before it.
   One firing a second at most (the engine's next turn must hold 1 s of speech first). On two-
   party train splits (changes found, false per minute) and the one-voice train splits of the real
   and neural voices and of the synthetic family (false per minute: what the check costs a call of
   one voice).

Nothing here reads a test split; the engine's figures on held-out calls are
``benchmarks.voice_change`` (``results/voice_change_twoparty.md``, ``voice_change_one.md``). Writes
``results/voice_profiles.{json,md}``.
"""

from __future__ import annotations

import argparse
import itertools
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import corpus, report
from benchmarks.auc import roc_auc
from benchmarks.corpus import Call
from benchmarks.eot_train import set_calls
from benchmarks.voice_change import read_16k
from flux_cli.engine.voice_profiles import unit

RESULTS = Path(__file__).with_name("results")
CACHE = Path.home() / ".cache" / "flux-bench" / "voice-blocks"
SR = 16000
CHANGE_AFTER = (0.40, 0.58)  # a block ending this long after a new voice began is "at a change"
REFERENCE_S = 1.5
SEPARATIONS, MIN_RUNS = (0.76, 0.8, 0.84), (0.0, 6.5)
REFITS_EARLY = (12, 3)  # blocks between splits while the two voices are not known
MIN_BLOCKS, MARGINS = (15, 30), (0.05, 0.1, 0.15)
TWO_PARTY = ("twoparty_close", "twoparty")
ONE_VOICE = ("real", "neural")


def speech_flags(probs: list[float]) -> np.ndarray:
    """The engine's speech windows: its own ``SpeechTracker`` (VAD hysteresis), window by window."""
    from flux_cli.engine.detector import DEFAULT_CONFIG
    from flux_cli.engine.interfaces import VAD_WINDOW
    from flux_cli.engine.speech_tracker import SpeechTracker

    tracker = SpeechTracker(DEFAULT_CONFIG)
    return np.array([tracker.step(p, i * VAD_WINDOW, (i + 1) * VAD_WINDOW, in_pause=False)
                     for i, p in enumerate(probs)], dtype=bool)


def blocks(call: Call, engine: Any, encoder: Any) -> dict[str, np.ndarray]:
    """``ends`` (samples), ``vectors`` (one per block) and ``references`` (the 1.5 s before
    each block, NaN where it is not 80% speech), computed once per call."""
    from flux_cli.engine.interfaces import VAD_WINDOW
    from flux_cli.engine.voice_profiles import ProfileConfig

    path = CACHE / call.path.parent.name / f"{call.name}.npz"
    if path.exists():
        with np.load(path) as d:
            return {k: d[k] for k in ("ends", "vectors", "references")}
    c = ProfileConfig()
    block, hop, ref = round(c.block_s * SR), round(c.hop_s * SR), round(REFERENCE_S * SR)
    audio = read_16k(call.path)
    audio = audio[: len(audio) // VAD_WINDOW * VAD_WINDOW]
    flags = speech_flags(engine.vad.new_stream().process(audio))
    ends, vectors, references = [], [], []
    for end in range(block, len(audio) + 1, hop):
        if flags[(end - block) // VAD_WINDOW: end // VAD_WINDOW].mean() < c.min_speech:
            continue
        ends.append(end)
        vectors.append(encoder.voice_vector(audio[end - block: end]))
        start = end - block - ref
        ok = start >= 0 and flags[start // VAD_WINDOW: (end - block) // VAD_WINDOW].mean() >= 0.8
        references.append(encoder.voice_vector(audio[start: end - block]) if ok
                          else np.full(len(vectors[-1]), np.nan, dtype=np.float32))
    data: dict[str, np.ndarray] = {
        "ends": np.array(ends, dtype=np.int64), "vectors": np.array(vectors, np.float32),
        "references": np.array(references, np.float32)}
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, ends=data["ends"], vectors=data["vectors"], references=data["references"])
    return data


def voice_of(call: Call, start: float, end: float) -> str | None:
    """The one voice labelled over [start, end], None if none or two."""
    voices = {t.voice for t in call.turns if t.end > start + 0.02 and t.start < end - 0.02}
    return voices.pop() if len(voices) == 1 else None


def change_onsets(call: Call) -> list[float]:
    return [b.start for a, b in itertools.pairwise(call.turns) if a.voice != b.voice]


def separation(calls: list[Call], data: list[dict[str, np.ndarray]]) -> dict[str, Any]:
    """AUCs of the three scores for "another voice" (see the module docstring, 1)."""
    scores: dict[str, list[float]] = {"last 1.5 s": [], "previous voice": [],
                                      "the call's two voices (labels)": []}
    is_change: dict[str, list[int]] = {k: [] for k in scores}
    for call, d in zip(calls, data, strict=True):
        times = d["ends"] / SR
        labels = [voice_of(call, t - 0.48, t) for t in times]
        onsets = change_onsets(call)
        for i, t in enumerate(times):
            voice, before = labels[i], voice_of(call, t - 0.48 - 1.0, t - 0.58)
            if voice is None or before is None:
                continue
            at_change = any(CHANGE_AFTER[0] <= t - c <= CHANGE_AFTER[1] for c in onsets)
            if at_change != (voice != before):
                continue  # neither a clean change nor one voice speaking on
            x = d["vectors"][i]
            earlier = {v: [d["vectors"][j] for j in range(i) if labels[j] == v
                           and times[j] <= t - 0.58] for v in {voice, before}}
            if not np.isnan(d["references"][i]).any():
                _add(scores, is_change, "last 1.5 s", -float(unit(d["references"][i]) @ x),
                     at_change)
            if len(earlier[before]) >= 4:
                previous = unit(np.mean(earlier[before], axis=0))
                _add(scores, is_change, "previous voice", -float(previous @ x), at_change)
            others = {v for v in {tr.voice for tr in call.turns} if v != before}
            other = [d["vectors"][j] for j in range(i) if labels[j] in others
                     and times[j] <= t - 0.58]
            if len(earlier[before]) >= 6 and len(other) >= 6:
                margin = (float(unit(np.mean(other, axis=0)) @ x)
                          - float(unit(np.mean(earlier[before], axis=0)) @ x))
                _add(scores, is_change, "the call's two voices (labels)", margin, at_change)
    return {k: {"auc": round(roc_auc(np.array(v), np.array(is_change[k])), 3),
                "changes": sum(is_change[k]), "same_voice": len(v) - sum(is_change[k])}
            for k, v in scores.items()}


def _add(scores: dict[str, list[float]], labels: dict[str, list[int]], key: str, value: float,
         change: bool) -> None:
    scores[key].append(value)
    labels[key].append(int(change))


def online(calls: list[Call], data: list[dict[str, np.ndarray]], config: Any
           ) -> dict[str, Any]:
    """``VoiceProfiles`` over each call's blocks in order: changes found, false firings, and
    the calls in which two voices were ever known."""
    from flux_cli.engine.voice_profiles import VoiceProfiles

    found = changes = false = with_voices = 0
    seconds = 0.0
    for call, d in zip(calls, data, strict=True):
        profiles = VoiceProfiles(config)
        fired: list[float] = []
        heard_two = False
        for end, vector in zip(d["ends"], d["vectors"], strict=True):
            profiles.add(int(end), vector)
            heard_two |= profiles.voices is not None
            t = end / SR
            if profiles.changed() and (not fired or t - fired[-1] >= 1.0):
                fired.append(t)
        pairs = [(a, b) for a, b in itertools.pairwise(call.turns) if a.voice != b.voice]
        changes += len(pairs)
        found += sum(any(a.end - 0.15 <= t <= b.start + 0.6 for t in fired) for a, b in pairs)
        false += sum(not any(0 <= t - c <= 1.2 for c in change_onsets(call)) for t in fired)
        seconds += call.duration
        with_voices += heard_two
    return {"changes": changes, "found": found, "false": false, "minutes": seconds / 60,
            "false_per_min": false / (seconds / 60), "calls_with_two_voices": with_voices}


def markdown(data: dict[str, Any]) -> str:
    lines = ["# The call's voices: chosen on train splits (`python -m benchmarks.voice_profiles`)",
             "", f"On {data['machine'].get('cpu', '?')}. Blocks of 0.48 s every 0.16 s of "
             "speech, as the engine embeds them. Train splits only: the held-out figures are "
             "`voice_change_twoparty.md` and `voice_change_one.md`.", "",
             "## 1. Separation (`twoparty_close` train)", "",
             "| a block is another voice when it is far from | ROC AUC | changes | "
             "same-voice blocks |", "|---|---|---|---|"]
    for k, v in data["separation"].items():
        lines.append(f"| {k} | {v['auc']:.3f} | {v['changes']} | {v['same_voice']} |")
    lines += ["", "## 2. The rule, online (no labels)", "",
              "| refit every (voices unknown) | separation | mean run | min blocks | margin | "
              + " | ".join(
                  f"{s}: found / false per min" for s in TWO_PARTY)
              + " | real + neural: false per min | synthetic (flite, espeak; one voice a call): "
              "false per min |", "|---|---|---|---|---|" + "---|" * 4]
    for row in data["grid"]:
        cells = [f"{row[s]['found'] / row[s]['changes']:.0%} / {row[s]['false_per_min']:.2f}"
                 for s in TWO_PARTY]
        chosen = " (the engine's)" if row["chosen"] else ""
        lines.append(f"| {row['refit_early']} | {row['separation']} | {row['min_run']} | "
                     f"{row['min_blocks']} | "
                     f"{row['margin']}{chosen} | "
                     + " | ".join(cells) + f" | {row['one_voice']['false_per_min']:.2f} | "
                     f"{row['synthetic']['false_per_min']:.2f} |")
    return "\n".join(lines) + "\n"


def block_models() -> tuple[Any, Any]:
    """The engine (its VAD cuts the blocks) and the speaker encoder (it embeds them)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from flux_cli.engine.models.loader import load_engine, load_speaker_encoder

    engine = load_engine(asr_threads=1, asr_workers=1)
    encoder = load_speaker_encoder()
    if encoder is None:
        raise SystemExit("the speaker encoder's weights are not installed")
    return engine, encoder


def main(argv: list[str] | None = None) -> int:
    from flux_cli.engine.voice_profiles import ProfileConfig

    p = argparse.ArgumentParser(prog="python -m benchmarks.voice_profiles")
    p.add_argument("--cache-dir", type=Path, default=corpus.DEFAULT_CACHE)
    p.add_argument("--results-dir", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    engine, encoder = block_models()
    sets = {name: set_calls(name, "train", args.cache_dir)
            for name in (*TWO_PARTY, *ONE_VOICE, "synthetic")}
    data = {name: [blocks(call, engine, encoder) for call in calls]
            for name, calls in sets.items()}
    default = ProfileConfig()
    grid = []
    for early, sep, run, min_blocks, margin in itertools.product(
            REFITS_EARLY, SEPARATIONS, MIN_RUNS, MIN_BLOCKS, MARGINS):
        config = replace(default, separation=sep, min_run=run, min_blocks=min_blocks,
                         margin=margin, refit_early=early)
        row: dict[str, Any] = {"refit_early": early, "separation": sep, "min_run": run,
                               "min_blocks": min_blocks, "margin": margin,
                               "chosen": config == default}
        for name in TWO_PARTY:
            row[name] = online(sets[name], data[name], config)
        row["one_voice"] = online([c for n in ONE_VOICE for c in sets[n]],
                                  [d for n in ONE_VOICE for d in data[n]], config)
        row["synthetic"] = online(sets["synthetic"], data["synthetic"], config)
        grid.append(row)
    result = {"machine": report.machine_info(),
              "separation": separation(sets["twoparty_close"], data["twoparty_close"]),
              "grid": grid}
    report.write_results(args.results_dir, "voice_profiles", result, markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
