"""The bundled clips say what ``samples/labels.json`` says they do (checked by RMS level)."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
LABELS: dict[str, Any] = json.loads((SAMPLES / "labels.json").read_text())
RATE = 16000


def _db(audio: np.ndarray) -> float:
    rms = float(np.sqrt(np.mean(audio.astype(np.float64) ** 2))) if audio.size else 0.0
    return 20 * float(np.log10(max(rms, 1e-10)))


def _span(audio: np.ndarray, a: float, b: float) -> np.ndarray:
    return audio[round(a * RATE): round(b * RATE)]


@pytest.mark.parametrize("name", ["dialogue.wav", "sentence.wav"])
def test_format_size_and_duration(name: str) -> None:
    info = sf.info(SAMPLES / name)
    assert (info.samplerate, info.channels, info.subtype) == (RATE, 1, "PCM_16")
    assert info.duration == pytest.approx(LABELS[name]["duration"], abs=0.01)
    assert (SAMPLES / name).stat().st_size < 1_000_000


def test_dialogue_shape() -> None:
    turns = LABELS["dialogue.wav"]["turns"]
    assert 20 <= LABELS["dialogue.wav"]["duration"] <= 32
    assert len({t["speaker"] for t in turns}) == 2
    assert all(a["speaker"] != b["speaker"] for a, b in itertools.pairwise(turns))
    gaps = [b["start"] - a["end"] for a, b in itertools.pairwise(turns)]
    assert all(1.5 <= g <= 3.0 for g in gaps), gaps
    pauses = [p for t in turns for p, kind in zip(t["pauses"], t["pause_kinds"], strict=True)
              if kind == "inserted"]
    assert 1 <= len(pauses) <= 2
    assert all(0.6 <= b - a <= 1.0 for a, b in pauses)


@pytest.mark.parametrize("name", ["dialogue.wav", "sentence.wav"])
def test_silence_and_speech_where_labelled(name: str) -> None:
    audio, _ = sf.read(SAMPLES / name, dtype="float32")
    turns = LABELS[name]["turns"]
    edges = [0.0] + [x for t in turns for x in (t["start"], t["end"])] + [len(audio) / RATE]
    silences = [(edges[i], edges[i + 1]) for i in range(0, len(edges), 2)]
    silences += [tuple(p) for t in turns for p in t["pauses"]]
    for a, b in silences:
        if b - a > 0.02:  # inserted silences are digital zeros; natural ones just quiet
            assert _db(_span(audio, a, b)) < -45, (a, b)
    for t in turns:
        # speech starts and ends exactly at the labels: the 30 ms inside each edge is loud
        assert _db(_span(audio, t["start"], t["start"] + 0.03)) > -45
        assert _db(_span(audio, t["end"] - 0.03, t["end"])) > -45
        assert _db(_span(audio, t["start"], t["end"])) > -30


def test_opus_is_the_same_dialogue() -> None:
    path = SAMPLES / "dialogue.opus"
    assert path.read_bytes()[:4] == b"OggS"
    assert path.stat().st_size < 200_000
    opus, rate = sf.read(path, dtype="float32")
    wav, _ = sf.read(SAMPLES / "dialogue.wav", dtype="float32")
    assert rate == RATE
    assert len(opus) / rate == pytest.approx(len(wav) / RATE, abs=0.1)
    # same loud and quiet places: the first gap is silent, the first turn is not
    first = LABELS["dialogue.wav"]["turns"][0]
    second = LABELS["dialogue.wav"]["turns"][1]
    assert _db(_span(opus, first["end"] + 0.2, second["start"] - 0.2)) < -50
    assert _db(_span(opus, first["start"], first["end"])) > -30
