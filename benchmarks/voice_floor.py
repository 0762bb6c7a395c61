"""``python -m benchmarks.voice_floor``: how far above the call's floor speech must be heard to
count as a voice (``flux_cli/engine/level_floor.py``, ``VoiceChangeConfig.over_floor_db``), on
train splits only.

Why: under 10 dB of babble the VAD hears speech in the caller's pauses, and the call's voices
(``voice_profiles.py``) took the babble for a second voice (``results/wer_baseline.md``, stop
32). The engine's blocks (``benchmarks.voice_profiles.blocks``, cached) are given the level
the engine now computes at each: the block's power over the call's floor, the 10th percentile
of the last 8 s of 32 ms windows (the engine's own ``LevelFloor``). Then:

1. **Levels** (``noisy10`` train): how far above the floor a block of one voice is, and a block
   of babble alone (no labelled turn anywhere in it); per gate, the share of each kept.
2. **The call's voices behind each gate**: ``VoiceProfiles`` fed only the blocks at or above
   the gate (``benchmarks.voice_profiles.online``): the calls in which two voices were ever
   known, and for two-party calls the changes found, on ``noisy10``, ``noisy20``, ``real`` and
   ``neural`` (one voice: two voices should never be known), ``twoparty_close`` and
   ``twoparty`` (clean: the gate should change nothing), and ``twoparty_close`` under babble at
   10 dB (built here from the train split's calls and its babble bank: a second voice must
   still be heard over babble).

Nothing here reads a test split. Writes ``results/voice_floor.{json,md}``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import corpus, natural_corpus, report
from benchmarks.corpus import Call
from benchmarks.eot_train import set_calls
from benchmarks.voice_change import read_16k
from benchmarks.voice_profiles import block_models, blocks, online

RESULTS = Path(__file__).with_name("results")
GATES: tuple[float | None, ...] = (None, 3.0, 4.0, 5.0, 5.5, 6.0)
ONE_VOICE = ("noisy10", "noisy20", "real", "neural")
TWO_PARTY = ("twoparty_close", "twoparty")
UNDER_BABBLE = "twoparty_close_babble10"  # twoparty_close train with babble at 10 dB
BLOCK_S = 0.48


def over_floor(audio: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Each block's level over the call's floor (dB), as the engine computes it where the block
    ends: its ``LevelFloor`` stepped window by window up to there."""
    from flux_cli.engine.detector import DEFAULT_CONFIG
    from flux_cli.engine.interfaces import SAMPLE_RATE, VAD_WINDOW
    from flux_cli.engine.level_floor import level_db
    from flux_cli.engine.voice_change import level_floor

    floor = level_floor(DEFAULT_CONFIG.voice_change)
    assert floor is not None
    block = round(BLOCK_S * SAMPLE_RATE)
    out = np.empty(len(ends), dtype=np.float64)
    pos = 0
    for i, end in enumerate(int(e) for e in ends):
        while pos < end:  # block ends lie on the VAD's window grid
            floor.step(audio[pos: pos + VAD_WINDOW])
            pos += VAD_WINDOW
        bottom = floor.floor()
        assert bottom is not None  # a block's end is past at least one window
        out[i] = level_db(audio[end - block: end]) - bottom
    return out


def under_babble(calls: list[Call], cache_dir: Path, seed: int = corpus.DEFAULT_SEED
                 ) -> list[Call]:
    """``calls`` with babble at 10 dB under them, from the train split's babble bank (the last
    40 real utterances, as ``noisy10`` builds its own); written once into the cache."""
    out_dir = cache_dir / f"{natural_corpus.VERSION}-{seed}" / f"{UNDER_BABBLE}-train"
    paths = [out_dir / f"{call.name}.wav" for call in calls]
    if not all(p.exists() for p in paths):
        import soundfile as sf

        real, _ = natural_corpus.split_utterances(natural_corpus.Sources(cache_dir), "train")
        bank = natural_corpus.babble_bank(real)
        rng = np.random.default_rng(20261206)
        out_dir.mkdir(parents=True, exist_ok=True)
        for call, path in zip(calls, paths, strict=True):
            audio, _ = sf.read(call.path, dtype="float32")
            natural_corpus.write_wav(path, natural_corpus.noisy(audio, 10.0, bank, rng,
                                                                babble=True))
    return [Call(c.name, p, c.duration, c.voice, c.turns) for c, p in zip(calls, paths,
                                                                         strict=True)]


def block_kinds(call: Call, ends: np.ndarray) -> np.ndarray:
    """Per block: 1 inside one labelled voice's speech, 0 with no labelled turn in it (babble
    or noise alone), -1 otherwise (an edge)."""
    times = ends / 16000
    kinds = np.full(len(ends), -1, dtype=np.int64)
    for i, t in enumerate(times):
        hits = [turn for turn in call.turns if turn.end > t - BLOCK_S and turn.start < t]
        if not hits:
            kinds[i] = 0
        elif len(hits) == 1 and hits[0].start <= t - BLOCK_S and t <= hits[0].end:
            kinds[i] = 1
    return kinds


def levels(over: list[np.ndarray], kinds: list[np.ndarray]) -> dict[str, Any]:
    """Part 1: the blocks' level over the floor, one voice's and babble alone's."""
    above, kind = np.concatenate(over), np.concatenate(kinds)
    voice, alone = above[kind == 1], above[kind == 0]
    q = (5, 10, 25, 50, 75, 90, 95)
    return {"voice_blocks": len(voice), "alone_blocks": len(alone),
            "voice_percentiles": dict(zip(q, np.percentile(voice, q).round(1).tolist(),
                                          strict=True)),
            "alone_percentiles": dict(zip(q, np.percentile(alone, q).round(1).tolist(),
                                          strict=True)),
            "gates": [{"gate": g, "voice_dropped": round(float(np.mean(voice < g)), 3),
                       "alone_kept": round(float(np.mean(alone >= g)), 3)}
                      for g in GATES if g is not None]}


def gated(data: dict[str, np.ndarray], above: np.ndarray, gate: float | None
          ) -> dict[str, np.ndarray]:
    keep = np.ones(len(above), dtype=bool) if gate is None else above >= gate
    return {"ends": data["ends"][keep], "vectors": data["vectors"][keep]}


def markdown(result: dict[str, Any]) -> str:
    lv = result["levels"]
    lines = ["# A voice is heard above the call's floor: chosen on train splits "
             "(`python -m benchmarks.voice_floor`)", "",
             f"On {result['machine'].get('cpu', '?')}, at {result['machine'].get('git_commit')}. "
             "Each block of 0.48 s the engine embeds, its level over the call's floor (the 10th "
             "percentile of the last 8 s of 32 ms windows: `flux_cli/engine/level_floor.py`). "
             "Train splits only; the engine's default is 5 dB.", "",
             "## 1. Levels over the floor (`noisy10` train: babble or low noise at 10 dB)", "",
             f"{lv['voice_blocks']} blocks inside one voice's speech, {lv['alone_blocks']} with "
             "no labelled turn in them (babble the VAD heard as speech).", "",
             "| percentile | " + " | ".join(str(k) for k in lv["voice_percentiles"]) + " |",
             "|---|" + "---|" * len(lv["voice_percentiles"]),
             "| one voice (dB over the floor) | "
             + " | ".join(f"{v}" for v in lv["voice_percentiles"].values()) + " |",
             "| babble alone | "
             + " | ".join(f"{v}" for v in lv["alone_percentiles"].values()) + " |", "",
             "| gate (dB) | one voice's blocks dropped | babble alone's blocks kept |",
             "|---|---|---|"]
    lines += [f"| {g['gate']} | {g['voice_dropped']:.0%} | {g['alone_kept']:.0%} |"
              for g in lv["gates"]]
    names = list(result["sets"])
    lines += ["", "## 2. The call's voices behind each gate", "",
              "Calls in which two voices were ever known; for two-party calls also the changes "
              "found (`benchmarks.voice_profiles`' online rule: between the last turn's end "
              "and 600 ms into the new voice) and false firings a minute.", "",
              "| gate (dB) | " + " | ".join(f"`{n}`" for n in names) + " |",
              "|---|" + "---|" * len(names)]
    for row in result["rows"]:
        cells = []
        for n in names:
            r = row[n]
            cell = f"{r['calls_with_two_voices']}/{result['sets'][n]} calls"
            if r["changes"] and n not in ONE_VOICE:
                cell += f", {r['found'] / r['changes']:.0%} found, {r['false_per_min']:.2f}/min"
            cells.append(cell)
        label = "none" if row["gate"] is None else f"{row['gate']}"
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    from flux_cli.engine.voice_profiles import ProfileConfig

    p = argparse.ArgumentParser(prog="python -m benchmarks.voice_floor")
    p.add_argument("--cache-dir", type=Path, default=corpus.DEFAULT_CACHE)
    p.add_argument("--results-dir", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    engine, encoder = block_models()
    sets = {name: set_calls(name, "train", args.cache_dir) for name in (*ONE_VOICE, *TWO_PARTY)}
    sets[UNDER_BABBLE] = under_babble(sets["twoparty_close"], args.cache_dir)
    data = {name: [blocks(call, engine, encoder) for call in calls]
            for name, calls in sets.items()}
    above = {name: [over_floor(read_16k(call.path), d["ends"])
                    for call, d in zip(calls, data[name], strict=True)]
             for name, calls in sets.items()}
    kinds = [block_kinds(call, d["ends"]) for call, d in zip(sets["noisy10"], data["noisy10"],
                                                             strict=True)]
    rows = []
    for gate in GATES:
        row: dict[str, Any] = {"gate": gate}
        for name, calls in sets.items():
            row[name] = online(calls, [gated(d, a, gate) for d, a in
                                       zip(data[name], above[name], strict=True)],
                               ProfileConfig())
        rows.append(row)
    result = {"machine": report.machine_info(), "levels": levels(above["noisy10"], kinds),
              "sets": {name: len(calls) for name, calls in sets.items()}, "rows": rows}
    report.write_results(args.results_dir, "voice_floor", result, markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
