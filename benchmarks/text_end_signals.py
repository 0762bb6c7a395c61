"""How well does each "is the sentence finished?" signal separate turn ends from inside pauses?

For every labelled pause of the held-out corpora (test splits; inside pauses = unfinished,
turn ends = finished), the turn's audio up to the pause is decoded as the engine decodes it at
the decision point (``[turn start - 0.2 s, pause + 0.15 s]``), and each signal scores that
decode. Figures are ROC AUCs (0.5: no separation, 1: perfect), per set, per voice, on three
selections: all pauses; mid-sentence pauses only (the pauses we inserted, which are inside
sentences, against turn ends: the speakers' own pauses between sentences are left out, as no
text can tell them from an end); and the same for turns of 3 words or more (the Asterisk
prompts include single words and fragments such as "Romeo" or "less than").

Signals:
- ``text_eou``: the text model (``flux_cli/engine/models/text_eou.py``), words only;
- ``whisper_end``: Whisper's probability of ``.`` or ``?`` after the words, given the audio
  (``flux_cli/engine/models/sentence_end.py``);
- ``punct``: whether the decode ends in ``.``/``?``/``!`` (what Whisper writes);
- ``ending_kind``: the detector's hand-made ending classes, ranked unfinished -> finished.

No step here trains or tunes anything on these sets: the text model was trained on the
chit-chat corpus only, and Whisper is used as shipped.

    python -m benchmarks.text_end_signals           # decodes once (cached), prints the table
    python -m benchmarks.text_end_signals --sets neural,real
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import corpus, natural_corpus
from benchmarks.auc import roc_auc
from benchmarks.corpus import Call
from flux_cli.engine.endings import ending_kind
from flux_cli.engine.models.text_eou import default_model

SR = 16000
SETS = ("synthetic", "real", "neural", "twoparty")
CACHE = corpus.DEFAULT_CACHE / "text-end-signals1"
RESULTS = Path(__file__).with_name("results") / "text_end_signals.json"
START_PAD_S = 0.2  # the decision point's decode slice (DetectorConfig.start_pad_s/tail_pad_s)
TAIL_PAD_S = 0.15
# The detector's ending classes from plainly unfinished to plainly finished.
KIND_RANK = {"empty": 0, "ellipsis": 0, "continuation": 0, "comma": 0, "verb": 0.1,
             "discourse": 0.1, "hold": 0.2, "number": 0.5, "no_punct": 0.5,
             "short_answer": 0.9, "question": 1, "period": 1, "closing": 1}
SIGNALS = ("text_eou", "whisper_end", "punct", "ending_kind")


def set_calls(name: str) -> list[Call]:
    if name == "synthetic":
        return corpus.build("full")[6:]  # the held-out calls
    return natural_corpus.build(name, "test")


def _read_16k(path: Path) -> np.ndarray:
    import soundfile as sf
    import soxr

    audio, rate = sf.read(path, dtype="float32")
    if rate != SR:
        audio = soxr.resample(audio, rate, SR)
    return np.asarray(audio, dtype=np.float32)


def collect(name: str) -> list[dict[str, Any]]:
    """Every labelled pause of the set's test split, decoded and scored by Whisper (cached)."""
    path = CACHE / f"{name}-test.json"
    if path.exists():
        return list(json.loads(path.read_text()))
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from flux_cli.engine.models.loader import load_engine
    from flux_cli.engine.models.sentence_end import SentenceEnd

    transcriber = load_engine(asr_threads=1, asr_workers=1).transcriber
    scorer = SentenceEnd(transcriber)
    rows: list[dict[str, Any]] = []
    for call in set_calls(name):
        audio = _read_16k(call.path)
        for index, label in enumerate(call.turns):
            kinds = label.pause_kinds or ["inserted"] * len(label.pauses)
            points = [(a, 0, kind) for (a, _b), kind in zip(label.pauses, kinds, strict=True)]
            points.append((label.end, 1, "end"))
            for at, finished, kind in points:
                lo = max(0, round((label.start - START_PAD_S) * SR))
                hi = min(len(audio), round((at + TAIL_PAD_S) * SR))
                t0 = time.process_time()
                text, tokens, encoded, start = scorer.decode(audio[lo:hi])
                t1 = time.process_time()
                p_end = scorer.after(encoded, tokens, start) if tokens else None
                t2 = time.process_time()
                rows.append({"call": call.name, "turn": index, "voice": label.voice or call.voice,
                             "ref": label.text, "label": finished, "kind": kind,
                             "at": round(at, 3), "text": text, "whisper_end": p_end,
                             "decode_cpu_s": round(t1 - t0, 4),
                             "whisper_end_cpu_s": round(t2 - t1, 4)})
    CACHE.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(rows))
    return rows


def _punct(text: str) -> float:
    t = text.strip()
    return float(t.endswith((".", "?", "!")) and not t.endswith("..."))


def scores(rows: list[dict[str, Any]]) -> dict[str, np.ndarray]:
    model = default_model()
    return {
        "text_eou": np.array([model.logit(r["text"]) for r in rows]),
        "whisper_end": np.array([-1.0 if r["whisper_end"] is None else r["whisper_end"]
                                 for r in rows]),
        "punct": np.array([_punct(r["text"]) for r in rows]),
        "ending_kind": np.array([KIND_RANK[ending_kind(r["text"])] for r in rows]),
    }


def selections(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    heard = [r for r in rows if r["text"].strip()]
    mid = [r for r in heard if r["kind"] != "natural"]
    return {"all": heard, "mid": mid, "mid, 3+ words": [r for r in mid
                                                         if len(r["ref"].split()) >= 3]}


def table(sets: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in sets:
        rows = collect(name)
        groups = {name: rows}
        voices = sorted({r["voice"] for r in rows})
        if len(voices) > 1:
            groups.update({f"{name} {v}": [r for r in rows if r["voice"] == v] for v in voices})
        for group, members in groups.items():
            for selection, chosen in selections(members).items():
                if not chosen:
                    continue
                y = np.array([r["label"] for r in chosen], dtype=float)
                row: dict[str, float] = {"pauses": int(len(y) - y.sum()), "ends": int(y.sum())}
                row.update({s: round(roc_auc(v, y), 3) for s, v in scores(chosen).items()})
                out[f"{group} | {selection}"] = row
        for step in ("decode", "whisper_end"):
            cpu = [r[f"{step}_cpu_s"] for r in rows if r[f"{step}_cpu_s"]]
            out[f"{name} | {step} CPU ms p50"] = round(1000 * float(np.median(cpu)), 1)
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.text_end_signals")
    p.add_argument("--sets", default=",".join(SETS))
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    result = table(args.sets.split(","))
    print("| set | selection | inside pauses | ends | " + " | ".join(SIGNALS) + " |")
    print("|---" * (4 + len(SIGNALS)) + "|")
    for key, row in result.items():
        if isinstance(row, dict):
            group, selection = key.split(" | ")
            cells = " | ".join(str(row[s]) for s in SIGNALS)
            print(f"| {group} | {selection} | {row['pauses']} | {row['ends']} | {cells} |")
    for key, value in result.items():
        if not isinstance(value, dict):
            print(f"{key}: {value}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
