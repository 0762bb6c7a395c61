"""The Whisper models side by side, one run on one machine: what each costs and what it gets.

    python -m benchmarks.asr_models [--models tiny.en,base] [--prompts 60]

Prints one Markdown table per part and writes ``results/asr_models.{md,json}``:

1. English WER on a real voice (the Asterisk prompts of ``natural.py``, its held-out half,
   CC-BY-SA audio installed by apt and never committed): clean 16 kHz, through an 8 kHz
   300-3400 Hz telephone band (``natural_corpus.telephone``, back to 16 kHz as the server
   resamples), and with babble or road noise at 10 dB SNR (``natural_corpus.noisy``).
2. Cost: CPU seconds per second of audio for one decode (median over the clean prompts,
   one thread), and for a whole stream: ``samples/dialogue.wav`` through the engine's
   ``TurnSession`` with interim decodes every 0.5 s, as a server runs it. Streams per core =
   1 / the stream's CPU seconds per audio second: what one core keeps up with in real time.
3. Multilingual models only: the committed check set (``samples/make_multilingual.py``), per
   language: WER (characters for Japanese), language ID right out of the clips, without a hint
   and with ``language_hint`` = the spoken language; and the language of each turn of the
   call that switches between English and Spanish.
4. Multilingual models only: end of turn per language. Each language's four espeak-ng clips
   as one call (1.5 s between turns) through ``TurnSession`` on ``flux-general-multi``: turn
   ends found, false cut-offs (an EndOfTurn inside a turn) and the median end-of-turn delay,
   with the English word features gated by the detected language (what the engine does) and
   ungated (every transcript read as English), to show what the gate changes.

All models run in this one process, one after another, each timed by this process's CPU clock
(``time.process_time``: all threads), so the numbers share one machine state.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import re
import statistics
import time
import unicodedata
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from benchmarks import natural
from benchmarks.natural_corpus import noisy, telephone
from benchmarks.scoring import edit_distance, wer
from flux_cli.engine.interfaces import SAMPLE_RATE, Engine
from flux_cli.engine.languages import LanguageChoice, choice_for
from flux_cli.protocol import LANGUAGES, MULTILINGUAL_MODEL, StreamParams, TurnInfo

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
RESULTS = Path(__file__).resolve().parent / "results"
FRAME = 1280  # 80 ms
SNR_DB = 10.0
# How each language writes "ten" (the check set's "ten minutes"; Whisper writes "10").
TEN = {"en": "ten", "es": "diez", "fr": "dix", "de": "zehn", "it": "dieci", "pt": "dez",
       "nl": "tien", "ru": "десять", "hi": "दस"}


def prompts(count: int) -> tuple[list[tuple[str, np.ndarray]], np.ndarray]:
    """``count`` held-out Asterisk prompts (evenly spread) and a babble bank from the others."""
    natural.ensure_packages()
    texts = natural.asterisk_texts()
    half = len(texts) // 2
    held_out, train = texts[half:], texts[:half]
    step = max(1, len(held_out) // count)
    chosen = []
    for name, text in held_out[::step]:
        audio = natural.level(natural.trimmed(natural.decode_g722(natural.ASTERISK_DIR /
                                                                 f"{name}.g722")))
        if len(audio) >= SAMPLE_RATE * 0.5:
            chosen.append((text, audio))
        if len(chosen) == count:
            break
    bank = np.concatenate([
        natural.level(natural.decode_g722(natural.ASTERISK_DIR / f"{name}.g722"))
        for name, _ in train[-40:]
    ])
    return chosen, bank


def conditions(audio: np.ndarray, bank: np.ndarray, rng: np.random.Generator) -> dict[str,
                                                                                      np.ndarray]:
    import soxr

    phone = soxr.resample(telephone(audio), 8000, SAMPLE_RATE).astype(np.float32)
    return {"clean": audio, "tel8k": phone, "noisy10": noisy(audio, SNR_DB, bank, rng)}


def english(engine: Engine, items: list[tuple[str, np.ndarray]], bank: np.ndarray,
            seed: int) -> dict[str, Any]:
    """WER per condition and the one-decode CPU cost (clean prompts)."""
    rng = np.random.default_rng(seed)
    pairs: dict[str, list[tuple[str, str]]] = {"clean": [], "tel8k": [], "noisy10": []}
    rtf: list[float] = []
    for text, audio in items:
        for name, variant in conditions(audio, bank, rng).items():
            start = time.process_time()
            heard = engine.transcriber.transcribe(variant, offset_s=0.0).text
            if name == "clean":
                rtf.append((time.process_time() - start) / (len(audio) / SAMPLE_RATE))
            pairs[name].append((text, heard))
    out: dict[str, Any] = {f"wer_{name}": round(wer(p)[0], 4) for name, p in pairs.items()}
    out["decode_cpu_per_audio_s"] = round(statistics.median(rtf), 4)
    out["prompts"] = len(items)
    out["audio_s"] = round(sum(len(a) for _, a in items) / SAMPLE_RATE, 1)
    return out


def stream_cost(engine: Engine, model: str = "flux-general-en") -> dict[str, float]:
    """CPU per audio second of a whole stream through the turn engine, and streams per core."""
    from flux_cli.engine.session import TurnSession

    audio, rate = sf.read(SAMPLES / "dialogue.wav", dtype="float32")
    assert rate == SAMPLE_RATE
    session = TurnSession(vad=engine.vad.new_stream(), transcriber=engine.transcriber,
                          interim_transcriber=engine.interim_transcriber,
                          smart_turn=engine.smart_turn, params=StreamParams(model=model),
                          request_id="bench", sync_interim=True)
    start = time.process_time()
    session.start()
    for i in range(0, len(audio), FRAME):
        session.feed(audio[i: i + FRAME])
    session.close()
    per_s = (time.process_time() - start) / (len(audio) / SAMPLE_RATE)
    return {"stream_cpu_per_audio_s": round(per_s, 4), "streams_per_core": round(1 / per_s, 1)}


def words_of(text: str, lang: str) -> list[str]:
    """Words (characters for Japanese) for WER in any of the ten languages."""
    text = unicodedata.normalize("NFC", text.lower())
    text = re.sub(r"[^\w\s']|_", " ", text).replace("'", " ")
    if lang == "ja":
        return [ch for ch in text if not ch.isspace()]
    ten = TEN.get(lang)
    return [ten if (w == "10" and ten) else w for w in text.split()]


def multilingual(engine: Engine) -> dict[str, Any]:
    labels = json.loads((SAMPLES / "multilingual" / "labels.json").read_text())
    per_lang: dict[str, dict[str, Any]] = {}
    for name, clip in labels["clips"].items():
        lang, voice = clip["language"], clip["voice"]
        audio, _ = sf.read(SAMPLES / "multilingual" / name, dtype="float32")
        row = per_lang.setdefault(f"{lang} ({voice})", {"clips": 0, "words": 0, "errors": 0,
                                                        "errors_hinted": 0, "lid": 0,
                                                        "lid_hinted": 0})
        ref = words_of(clip["text"], lang)
        for hinted, key in ((False, ""), (True, "_hinted")):
            choice = choice_for(MULTILINGUAL_MODEL, [lang] if hinted else [])
            heard = engine.transcriber.transcribe(audio, offset_s=0.0, languages=choice)
            row["errors" + key] += edit_distance(ref, words_of(heard.text, lang))
            row["lid" + key] += bool(heard.languages) and heard.languages[0] == lang
        row["clips"] += 1
        row["words"] += len(ref)
    table = {
        key: {"clips": r["clips"], "wer": round(r["errors"] / r["words"], 3),
              "wer_hinted": round(r["errors_hinted"] / r["words"], 3),
              "lid": f"{r['lid']}/{r['clips']}", "lid_hinted": f"{r['lid_hinted']}/{r['clips']}"}
        for key, r in sorted(per_lang.items())
    }
    return {"per_language": table, "switch_call": switch_call(engine, labels)}


def switch_call(engine: Engine, labels: dict[str, Any]) -> dict[str, Any]:
    """The language of each labelled turn of the switching call, decoded turn by turn."""
    audio, _ = sf.read(SAMPLES / "multilingual" / "switch_en_es.flac", dtype="float32")
    choice = LanguageChoice(tuple(LANGUAGES))
    got = []
    for turn in labels["calls"]["switch_en_es.flac"]:
        piece = audio[int(turn["start"] * SAMPLE_RATE): int(turn["end"] * SAMPLE_RATE)]
        heard = engine.transcriber.transcribe(piece, offset_s=0.0, languages=choice)
        got.append(heard.languages[0] if heard.languages else "")
    expected = [t["language"] for t in labels["calls"]["switch_en_es.flac"]]
    return {"expected": expected, "detected": got,
            "right": f"{sum(a == b for a, b in zip(expected, got, strict=True))}/{len(got)}"}


class _Ungated:
    """The committed end-of-turn model reading every transcript as English (the baseline)."""

    def __init__(self) -> None:
        from flux_cli.engine.eot_model import default_model

        self.inner = default_model()

    @property
    def uses_smart_turn(self) -> bool:
        return self.inner.uses_smart_turn

    def line(self, evidence: Any) -> tuple[float, float]:
        from dataclasses import replace

        return self.inner.line(replace(evidence, language=None))


def end_of_turn(engine: Engine) -> dict[str, Any]:
    """Per language: ends found, false cut-offs, median delay; gated and ungated features."""
    from flux_cli.engine.detector import DetectorConfig
    from flux_cli.engine.session import TurnSession

    labels = json.loads((SAMPLES / "multilingual" / "labels.json").read_text())
    gap = np.zeros(int(1.5 * SAMPLE_RATE), dtype=np.float32)
    out: dict[str, Any] = {}
    for lang in LANGUAGES:
        names = sorted(n for n, c in labels["clips"].items()
                       if c["language"] == lang and c["voice"] == "espeak-ng")
        pieces: list[np.ndarray] = [gap[: SAMPLE_RATE // 2]]
        bounds = []
        pos = len(pieces[0])
        for name in names:
            clip, _ = sf.read(SAMPLES / "multilingual" / name, dtype="float32")
            bounds.append((pos / SAMPLE_RATE, (pos + len(clip)) / SAMPLE_RATE))
            pieces += [clip, gap]
            pos += len(clip) + len(gap)
        audio = np.concatenate([*pieces, np.zeros(SAMPLE_RATE, np.float32)])
        row: dict[str, Any] = {"turns": len(bounds)}
        for label, config in (("gated", DetectorConfig()), ("ungated",
                                                          DetectorConfig(model=_Ungated()))):
            session = TurnSession(vad=engine.vad.new_stream(), transcriber=engine.transcriber,
                                  smart_turn=engine.smart_turn, config=config,
                                  params=StreamParams(model=MULTILINGUAL_MODEL),
                                  request_id="bench", sync_interim=False)
            events = session.start()
            for i in range(0, len(audio), FRAME):
                events += session.feed(audio[i: i + FRAME])
            ends = [float(m.audio_window_end) for m in events
                    if isinstance(m, TurnInfo) and m.event == "EndOfTurn"]
            found, delays, cuts = 0, [], 0
            for i, (start, end) in enumerate(bounds):
                limit = bounds[i + 1][0] + 0.3 if i + 1 < len(bounds) else len(audio)
                after = [e for e in ends if end - 0.15 <= e <= limit]
                cuts += sum(start < e < end - 0.15 for e in ends)
                if after:
                    found += 1
                    delays.append(after[0] - end)
            row[label] = {"ends": found, "cuts": cuts,
                          "delay_ms": round(1000 * statistics.median(delays)) if delays else None}
        out[lang] = row
    return out


def markdown(results: dict[str, Any]) -> str:
    models = results["models"]
    lines = ["## Whisper models: English WER and cost (one run, this machine)", "",
             "| model | WER clean | WER 8 kHz phone | WER noisy 10 dB | decode CPU s / audio s "
             "| stream CPU s / audio s | streams per core |", "|---|---|---|---|---|---|---|"]
    for name, m in models.items():
        lines.append(f"| {name} | {m['wer_clean']:.1%} | {m['wer_tel8k']:.1%} | "
                     f"{m['wer_noisy10']:.1%} | {m['decode_cpu_per_audio_s']:.3f} | "
                     f"{m['stream_cpu_per_audio_s']:.3f} | {m['streams_per_core']:.1f} |")
    for name, m in models.items():
        if "multilingual" not in m:
            continue
        lines += ["", f"## {name}: the multilingual check set (samples/multilingual)", "",
                  "| language (voice) | clips | WER | WER with hint | language ID | "
                  "language ID with hint |", "|---|---|---|---|---|---|"]
        for lang, row in m["multilingual"]["per_language"].items():
            lines.append(f"| {lang} | {row['clips']} | {row['wer']:.0%} | "
                         f"{row['wer_hinted']:.0%} | {row['lid']} | {row['lid_hinted']} |")
        switch = m["multilingual"]["switch_call"]
        lines += ["", f"Language switch inside a call (en/es/en/es, no hints): "
                      f"{' '.join(switch['detected'])} ({switch['right']} right)."]
        turns = m["multilingual"]["end_of_turn"]
        lines += ["", f"## {name}: end of turn per language (espeak-ng calls, flux-general-multi)",
                  "", "| language | turns | ends found gated / ungated | false cut-offs gated / "
                  "ungated | median delay ms gated / ungated |", "|---|---|---|---|---|"]
        for lang, row in turns.items():
            g, u = row["gated"], row["ungated"]
            lines.append(f"| {lang} | {row['turns']} | {g['ends']} / {u['ends']} | "
                         f"{g['cuts']} / {u['cuts']} | {g['delay_ms']} / {u['delay_ms']} |")
    machine = results["machine"]
    lines += ["", f"Machine: {machine['cpu']}, {machine['cores']} cores, load average "
                  f"{machine['load_before']} before the run; {results['prompts']} prompts, "
                  f"{results['seconds']:.0f} s. WER for Japanese is per character; "
                  f"Whisper's \"10\" counts as the language's word for ten."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default="tiny.en,base")
    parser.add_argument("--prompts", type=int, default=60)
    parser.add_argument("--seed", type=int, default=20261205)
    parser.add_argument("--results-dir", type=Path, default=RESULTS)
    args = parser.parse_args()
    import os

    from flux_cli.engine.models.loader import load_engine

    started = time.monotonic()
    load_before = " ".join(f"{x:.1f}" for x in os.getloadavg())
    items, bank = prompts(args.prompts)
    random.seed(args.seed)
    models: dict[str, Any] = {}
    for name in args.models.split(","):
        load_start = time.perf_counter()
        engine = load_engine(asr=name, asr_threads=1, asr_workers=1)
        row: dict[str, Any] = {"load_s": round(time.perf_counter() - load_start, 2)}
        row.update(english(engine, items, bank, args.seed))
        row.update(stream_cost(engine))
        if engine.asr.multilingual:
            row["multilingual"] = multilingual(engine)
            row["multilingual"]["end_of_turn"] = end_of_turn(engine)
        models[name] = row
        print(f"{name}: done", flush=True)
    results = {
        "models": models, "prompts": len(items), "seconds": time.monotonic() - started,
        "machine": {"cpu": platform.processor() or platform.machine(),
                    "cores": os.cpu_count(), "load_before": load_before},
    }
    text = markdown(results)
    print(text)
    args.results_dir.mkdir(parents=True, exist_ok=True)
    (args.results_dir / "asr_models.md").write_text(text)
    (args.results_dir / "asr_models.json").write_text(json.dumps(results, indent=1,
                                                                  ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
