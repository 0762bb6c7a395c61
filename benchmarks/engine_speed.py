"""How fast the local engine's models are on this machine: load, VAD, ASR, Smart Turn.

    python -m benchmarks.engine_speed [--repeats 5] [--asr-threads 2]

Speech is ``samples/dialogue.wav`` (flite, committed with its labels); ASR times are the
median of ``--repeats`` decodes of the first 2/5/10/20 s. The per-turn word error rate
is a sanity check of the decoder, not the benchmark's WER (that is ``benchmarks.run``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import soundfile as sf

from flux_cli.engine.interfaces import SAMPLE_RATE, VAD_WINDOW, Audio

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
FRAME = 1280  # 80 ms: what clients send


def median_seconds(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--asr-threads", type=int, default=2)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    from flux_cli.engine.models.loader import load_engine

    audio, rate = sf.read(SAMPLES / "dialogue.wav", dtype="float32")
    assert rate == SAMPLE_RATE
    labels = json.loads((SAMPLES / "labels.json").read_text())["dialogue.wav"]["turns"]

    start = time.perf_counter()
    engine = load_engine(asr_threads=args.asr_threads)
    load_s = time.perf_counter() - start
    rows: list[tuple[str, str]] = [("model load (all three, cold)", f"{load_s:.2f} s")]

    def vad_pass() -> None:
        stream = engine.vad.new_stream()
        for pos in range(0, audio.size, FRAME):
            stream.process(audio[pos : pos + FRAME])

    vad_s = median_seconds(vad_pass, args.repeats)
    windows = audio.size // VAD_WINDOW
    rows.append(
        (
            "VAD, 80 ms frames",
            f"{vad_s / windows * 1e6:.0f} µs/window (RTF {vad_s / (audio.size / SAMPLE_RATE):.4f})",
        )
    )

    engine.transcriber.transcribe(audio[: 2 * SAMPLE_RATE], offset_s=0)  # warm-up
    for seconds in (2, 5, 10, 20):
        clip = audio[: seconds * SAMPLE_RATE]

        def decode(clip: Audio = clip) -> object:
            return engine.transcriber.transcribe(clip, offset_s=0)

        asr_s = median_seconds(decode, args.repeats)
        rows.append(
            (
                f"ASR decode, {seconds} s of speech",
                f"{asr_s * 1000:.0f} ms (RTF {asr_s / seconds:.3f})",
            )
        )

    turn = audio[: 8 * SAMPLE_RATE]
    engine.smart_turn.predict(turn)
    st_s = median_seconds(lambda: engine.smart_turn.predict(turn), max(args.repeats, 20))
    rows.append(("Smart Turn v3.2, one call (8 s window)", f"{st_s * 1000:.0f} ms"))

    errors = total = 0
    for label in labels:
        piece = audio[
            int((label["start"] - 0.2) * SAMPLE_RATE) : int((label["end"] + 0.2) * SAMPLE_RATE)
        ]
        said = words(engine.transcriber.transcribe(piece, offset_s=0).text)
        ref = words(label["text"])
        errors += edit_distance(ref, said)
        total += len(ref)
    rows.append(
        (f"ASR word error rate, {len(labels)} turns (raw, unnormalised)", f"{errors / total:.1%}")
    )

    width = max(len(name) for name, _ in rows)
    print(f"{'measure':<{width}}  value")
    print(f"{'-' * width}  {'-' * 30}")
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    print(
        f"\n{os.cpu_count()} cores; ASR intra_threads={args.asr_threads}; median of {args.repeats}"
    )


def edit_distance(ref: list[str], hyp: list[str]) -> int:
    """Word-level Levenshtein distance (substitutions + insertions + deletions)."""
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[-1]


if __name__ == "__main__":
    main()
