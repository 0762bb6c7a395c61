"""Does the speaker embedding hear a voice change across a gap? Separation per voice family.

For ten voices of four families (flite ``slt rms awb kal16``, espeak-ng ``en-us en-gb en-us+f3
en-gb+m3``, hibari's neural ``heart``, the Asterisk prompts' real voice), each speaking
utterances of the benchmark's call-centre texts (the real voice: its own prompts), we embed
the end of one utterance and the start of another and take their cosine:

- **same voice**: the end of utterance *i* and the start of utterance *i + 1* of one voice, and
  one utterance cut at its quietest moment near the middle (a pause inside a sentence);
- **voice change**: the end of an utterance of one voice and the start of one of another.

The model is used as converted; nothing is trained or tuned here except the reported
threshold, which is read off these pairs (so it is an estimate for other voices, not a
promise). Windows (before the gap, after it): (3.0 s, 0.48 s) is what the engine's
``VoiceWatch`` compares by default (a decision 600 ms after a change has about 0.5 s of the
new voice); (1.6, 0.48), (1.6, 1.0) and (1.6, 1.6) show how much a longer look buys. Short
audio is embedded both ways: the real frames only (the default) and zero-padded to 1.6 s
(resemblyzer's way).

    python -m benchmarks.speaker_separation    # table + benchmarks/results/speaker_separation.json

Needs flite, espeak-ng (apt-get), hibari-tts (pip) and the Asterisk prompts (installed by
``benchmarks.natural.ensure_packages``); audio is cached under ``~/.cache/flux-bench``.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import subprocess
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import corpus, natural
from benchmarks.auc import roc_auc
from benchmarks.natural import SAMPLE_RATE, Sources
from flux_cli.engine.models.speaker import SpeakerEncoder, cosine

VOICES = (("flite", "slt"), ("flite", "rms"), ("flite", "awb"), ("flite", "kal16"),
          ("espeak", "en-us"), ("espeak", "en-gb"), ("espeak", "en-us+f3"),
          ("espeak", "en-gb+m3"), ("hibari", "heart"), ("real", "asterisk"))
# Voices that sound female: a change between two of them is the hard case (the two-party
# calls of natural_corpus pair two of these: the Asterisk voice and hibari's heart).
FEMALE = {"flite:slt", "espeak:en-us+f3", "hibari:heart", "real:asterisk"}
PER_VOICE = 16
WINDOWS = ((3.0, 0.48), (1.6, 0.48), (1.6, 1.0), (1.6, 1.6))
DIFF_PER_VOICE_PAIR = 3
FALSE_CHANGE_BUDGET = 0.05  # same-voice pauses flagged as a change: each one is a cut-off
RESULTS = Path(__file__).with_name("results") / "speaker_separation.json"
CACHE = corpus.DEFAULT_CACHE / "speakers1"
SEED = 31


@dataclass
class Utterance:
    voice: str
    family: str
    audio: np.ndarray


def scenario_texts(rng: random.Random) -> list[str]:
    templates = [t for ts in corpus.SCENARIOS.values() for t in ts]
    texts = [re.sub(r"\s*\|\s*", " ", corpus._fill(t, rng)).strip() for t in templates]
    return [t for t in texts if len(t.split()) >= 7]


def _wav(cmd: list[str], out: Path) -> np.ndarray:
    import soundfile as sf
    import soxr

    subprocess.run(cmd, check=True, capture_output=True)
    audio, rate = sf.read(out, dtype="float32")
    return np.asarray(soxr.resample(audio, rate, SAMPLE_RATE) if rate != SAMPLE_RATE else audio,
                      dtype=np.float32)


def speak(family: str, name: str, text: str, sources: Sources) -> np.ndarray:
    if family == "hibari":
        return sources.speak(text)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "x.wav"
        if family == "flite":
            return _wav(["flite", "-voice", name, "-t", text, "-o", str(out)], out)
        return _wav(["espeak-ng", "-v", name, "-w", str(out), text], out)


def utterances(cache: Path = CACHE) -> list[Utterance]:
    """PER_VOICE utterances per voice, trimmed, at varied levels; cached as float32."""
    cache.mkdir(parents=True, exist_ok=True)
    rng = random.Random(SEED)
    texts = scenario_texts(rng)
    sources = Sources(corpus.DEFAULT_CACHE)
    out = []
    for family, name in VOICES:
        voice = f"{family}:{name}"
        if family == "real":
            natural.ensure_packages()
            prompts = [p for p in natural.asterisk_texts() if len(p[1].split()) >= 8]
            picks = random.Random(SEED).sample(prompts, PER_VOICE)
        else:
            picks = [(f"{i}", t) for i, t in enumerate(rng.sample(texts, PER_VOICE))]
        for i, (key, text) in enumerate(picks):
            path = cache / f"{family}-{name}-{i:02d}.f32"
            if not path.exists():
                if family == "real":
                    raw = natural.decode_g722(natural.ASTERISK_DIR / f"{key}.g722")
                else:
                    raw = speak(family, name, text, sources)
                gain_db = rng.uniform(-6.0, 3.0)
                audio = natural.level(natural.trimmed(raw), natural.TARGET_RMS_DBFS + gain_db)
                audio.tofile(path)
            out.append(Utterance(voice, family, np.fromfile(path, dtype=np.float32)))
    return out


def telephone_line(audio: np.ndarray) -> np.ndarray:
    """What a phone line leaves of the voice (8 kHz, 300-3400 Hz), back at 16 kHz."""
    import soxr

    from benchmarks.natural_corpus import telephone

    return np.asarray(soxr.resample(telephone(audio), 8000, SAMPLE_RATE), dtype=np.float32)


def quietest_near_middle(audio: np.ndarray) -> int:
    """A pause point inside an utterance: its quietest 20 ms in the middle third."""
    lo, hi = len(audio) // 3, 2 * len(audio) // 3
    n = (hi - lo) // 320
    energy = np.mean(audio[lo: lo + n * 320].astype(np.float64).reshape(n, 320) ** 2, axis=1)
    return lo + int(np.argmin(energy)) * 320 + 160


@dataclass
class Pair:
    kind: str  # "same-next", "same-inside", "change"
    voice_a: str
    voice_b: str
    family_a: str
    family_b: str
    before: np.ndarray  # everything before the gap
    after: np.ndarray  # everything after it


def pairs(utts: list[Utterance]) -> list[Pair]:
    rng = random.Random(SEED)
    by_voice: dict[str, list[Utterance]] = defaultdict(list)
    for u in utts:
        by_voice[u.voice].append(u)
    out = []
    for voice, us in by_voice.items():
        for i, u in enumerate(us):
            nxt = us[(i + 1) % len(us)]
            out.append(Pair("same-next", voice, voice, u.family, u.family, u.audio, nxt.audio))
            cut = quietest_near_middle(u.audio)
            out.append(Pair("same-inside", voice, voice, u.family, u.family, u.audio[:cut],
                            u.audio[cut:]))
    for va, ua in by_voice.items():
        for vb, ub in by_voice.items():
            if va == vb:
                continue
            for _ in range(DIFF_PER_VOICE_PAIR):
                a, b = rng.choice(ua), rng.choice(ub)
                out.append(Pair("change", va, vb, a.family, b.family, a.audio, b.audio))
    return out


def score(all_pairs: list[Pair], encoder: SpeakerEncoder,
          windows: tuple[tuple[float, float], ...] = WINDOWS
          ) -> tuple[dict[str, list[float]], dict[float, float]]:
    """Cosines per window ("before/after" seconds) and median ms per embedding by length."""
    sims: dict[str, list[float]] = defaultdict(list)
    costs: dict[float, list[float]] = defaultdict(list)

    def timed(audio: np.ndarray) -> np.ndarray:
        t0 = time.perf_counter()
        out = encoder.embed(audio)
        costs[round(len(audio) / SAMPLE_RATE, 2)].append(time.perf_counter() - t0)
        return out

    for p in all_pairs:
        befores: dict[float, np.ndarray] = {}
        afters: dict[float, np.ndarray] = {}
        for before_s, after_s in windows:
            if before_s not in befores:
                befores[before_s] = timed(p.before[-round(before_s * SAMPLE_RATE):])
            if after_s not in afters:
                afters[after_s] = timed(p.after[: round(after_s * SAMPLE_RATE)])
            sims[f"{before_s}/{after_s}"].append(cosine(befores[before_s], afters[after_s]))
    return sims, {k: round(1000 * float(np.median(v)), 1) for k, v in sorted(costs.items())
                  if len(v) >= 10}


def threshold_at(same: np.ndarray, budget: float) -> float:
    """The cosine below which only ``budget`` of same-voice pairs fall."""
    return float(np.quantile(same, budget))


def summarise(all_pairs: list[Pair], sims: dict[str, list[float]]) -> dict[str, dict[str, Any]]:
    families = sorted({p.family_a for p in all_pairs})
    out: dict[str, dict[str, Any]] = {}
    for window, values in sims.items():
        cos = np.array(values)
        change = np.array([p.kind == "change" for p in all_pairs])
        score_ = -cos  # a change is a low cosine
        rows: dict[str, object] = {}
        groups = {"all": np.ones(len(all_pairs), bool)}
        for fam in families:
            groups[fam] = np.array([fam in (p.family_a, p.family_b) for p in all_pairs])
        groups["change within family"] = np.array(
            [p.kind != "change" or p.family_a == p.family_b for p in all_pairs])
        groups["same-inside only"] = np.array([p.kind != "same-next" for p in all_pairs])
        groups["female voices only"] = np.array(
            [p.voice_a in FEMALE and p.voice_b in FEMALE for p in all_pairs])
        groups["real voice and hibari only"] = np.array(
            [{p.voice_a, p.voice_b} <= {"real:asterisk", "hibari:heart"} for p in all_pairs])
        thr = threshold_at(cos[~change], FALSE_CHANGE_BUDGET)
        for name, sel in groups.items():
            y = change[sel]
            rows[name] = {"auc": round(roc_auc(score_[sel], y.astype(float)), 3),
                          "changes": int(y.sum()), "same": int((~y).sum()),
                          "changes_caught": round(float(np.mean(cos[sel][y] < thr)), 3)
                          if y.any() else None}
        out[window] = {"threshold": round(thr, 3), "groups": rows,
                        "same_median": round(float(np.median(cos[~change])), 3),
                        "change_median": round(float(np.median(cos[change])), 3)}
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.speaker_separation")
    p.add_argument("--out", type=Path, default=RESULTS)
    p.add_argument("--telephone", action="store_true",
                   help="every utterance through an 8 kHz 300-3400 Hz line first (one window, "
                        "real frames only)")
    args = p.parse_args(argv)
    utts = utterances()
    windows: tuple[tuple[float, float], ...] = WINDOWS
    modes: tuple[tuple[str, bool], ...] = (("real frames", False), ("padded", True))
    if args.telephone:
        utts = [Utterance(u.voice, u.family, telephone_line(u.audio)) for u in utts]
        windows, modes = ((1.6, 0.48),), (("telephone, real frames", False),)
        if args.out == RESULTS:
            args.out = RESULTS.with_name("speaker_separation_telephone.json")
    all_pairs = pairs(utts)
    results: dict[str, object] = {"windows_s": windows, "budget": FALSE_CHANGE_BUDGET}
    print(f"threshold: the cosine {FALSE_CHANGE_BUDGET:.0%} of same-voice pauses fall below")
    print("| short audio | before/after (s) | group | AUC | changes caught | changes / same |")
    print("|---|---|---|---|---|---|")
    for mode, pad in modes:
        sims, costs = score(all_pairs, SpeakerEncoder(pad_short=pad), windows)
        summary = summarise(all_pairs, sims)
        results[mode] = {"summary": summary, "ms_per_embedding": costs}
        for window, res in summary.items():
            groups = res["groups"]
            for name, row in groups.items():
                print(f"| {mode} | {window} | {name} | {row['auc']} | {row['changes_caught']} "
                      f"| {row['changes']} / {row['same']} |")
            print(f"| {mode} | {window} | threshold {res['threshold']} "
                  f"(same median {res['same_median']}, change median "
                  f"{res['change_median']}) | | | |")
        print(f"{mode}: median ms per embedding by audio seconds: {costs}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
