"""``python -m benchmarks.batching``: would batching Whisper decodes across streams pay?

Under load several streams want a decode at the same moment. Today each decode is its own
CTranslate2 call (two run at once, one per core). CTranslate2 also takes a batch: one
encode and one generate for K windows, padded to the longest. This measures decodes per
second and CPU seconds per decode for the same K real speech windows (turns of the corpus)
decoded one call each on two threads (what the server does) versus one batched call, at
K = 2, 4, 8. Only encode + generate are timed: the word alignment after them is per
window either way.

Results: ``benchmarks/results/batching.json`` and ``batching.md``.
"""

from __future__ import annotations

import json
import math
import os
import resource
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from benchmarks import corpus
from flux_cli.engine.interfaces import SAMPLE_RATE
from flux_cli.engine.models.asr import MAX_FRAMES, MAX_LENGTH, encoder_frames, silence_level

RESULTS = Path(__file__).with_name("results")
REPEATS = 3


def speech_windows(count: int) -> list[np.ndarray]:
    """The first ``count`` turns of the corpus, at most 6 s each (a typical decision decode)."""
    out: list[np.ndarray] = []
    for call in corpus.build("full"):
        audio, _ = sf.read(call.path, dtype="float32")
        for turn in call.turns:
            start = int(turn.start * SAMPLE_RATE)
            end = min(int(turn.end * SAMPLE_RATE), start + 6 * SAMPLE_RATE)
            out.append(np.asarray(audio[start:end], dtype=np.float32))
            if len(out) == count:
                return out
    return out


def cpu_now() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    from flux_cli.engine.models.asr import WhisperTranscriber
    from flux_cli.engine.models.loader import load_engine

    engine = load_engine()  # the server's own model settings (2 decodes at once, 1 thread each)
    asr = engine.transcriber
    assert isinstance(asr, WhisperTranscriber)
    windows = speech_windows(8)
    prepared: list[tuple[np.ndarray, int, int]] = []
    for w in windows:
        mel = asr._features(w)
        n = min(mel.shape[1] - 1, MAX_FRAMES)
        prepared.append((mel[:, :n], n, encoder_frames(n, asr.options)))
    prompt = asr._prompt([])

    def budget(w: np.ndarray) -> int:
        extra = asr.options.extra_tokens + math.ceil(asr.options.tokens_per_second * w.size
                                                     / SAMPLE_RATE)
        return min(MAX_LENGTH, len(prompt) + extra)

    def one(i: int) -> str:
        mel, n, padded = prepared[i]
        encoded = asr._encode(mel, n, padded)
        return asr._generate(encoded, prompt, budget(windows[i])).text

    def batched(idx: list[int]) -> list[str]:
        padded = max(prepared[i][2] for i in idx)
        feats = np.stack([np.full((mel.shape[0], padded), silence_level(mel), np.float32)
                          for mel, _, _ in (prepared[i] for i in idx)])
        for row, i in enumerate(idx):
            mel, n, _ = prepared[i]
            feats[row, :, :n] = mel[:, :n]
        encoded = asr._model.encode(asr._ct2.StorageView.from_array(feats), to_cpu=False)
        results = asr._model.generate(
            encoded, [prompt] * len(idx), beam_size=asr.options.beam_size,
            max_length=max(budget(windows[i]) for i in idx), suppress_blank=True,
            suppress_tokens=asr._suppress)
        return [str(asr._tok.decode([t for t in r.sequences_ids[0] if t < asr._eot])).strip()
                for r in results]

    rows: list[dict[str, Any]] = []
    pool = ThreadPoolExecutor(2)
    for k in (2, 4, 8):
        idx = list(range(k))
        for mode in ("one call each, 2 threads", "one batched call"):
            walls, cpus = [], []
            for _ in range(REPEATS):
                c0, t0 = cpu_now(), time.perf_counter()
                texts = batched(idx) if mode == "one batched call" else list(pool.map(one, idx))
                walls.append(time.perf_counter() - t0)
                cpus.append(cpu_now() - c0)
            wall, cpu = sorted(walls)[REPEATS // 2], sorted(cpus)[REPEATS // 2]
            rows.append({"k": k, "mode": mode, "wall_s": wall, "cpu_s": cpu,
                         "decodes_per_s": k / wall, "cpu_per_decode_s": cpu / k,
                         "sample_text": texts[0]})
            print(f"K={k} {mode}: {k / wall:.1f} decodes/s, {cpu / k * 1000:.0f} ms CPU each "
                  f"(load {os.getloadavg()[0]:.1f})", flush=True)
    out = {"command": "python -m benchmarks.batching", "load_average": os.getloadavg(),
           "note": "medians of 3; machine shared with other agents", "rows": rows}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "batching.json").write_text(json.dumps(out, indent=1) + "\n")
    lines = ["| windows | mode | decodes/s | CPU per decode | wall |", "|---|---|---|---|---|"]
    lines += [f"| {r['k']} | {r['mode']} | {r['decodes_per_s']:.1f} | "
              f"{r['cpu_per_decode_s'] * 1000:.0f} ms | {r['wall_s'] * 1000:.0f} ms |"
              for r in rows]
    (RESULTS / "batching.md").write_text("# Batched Whisper decodes\n\n`python -m benchmarks."
                                         "batching`\n\n" + "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
