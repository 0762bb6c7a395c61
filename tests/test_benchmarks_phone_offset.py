"""benchmarks.phone_offset's pure parts: the codec's offset, the count at the VAD, the report."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from benchmarks.phone_offset import g711, heard, markdown, wire_16k


def quiet_tone() -> np.ndarray:
    t = np.arange(3 * 8000) / 8000
    return (0.01 * np.sin(2 * np.pi * 300 * t)).astype(np.float32)


def test_the_reference_mulaw_rounding_leaves_an_offset_the_decoder_removes() -> None:
    tone = quiet_tone()
    assert float(np.mean(g711(tone, "mulaw"))) < -5e-6
    kept = wire_16k(tone, "mulaw", blocker=False)[16000:]
    removed = wire_16k(tone, "mulaw", blocker=True)[16000:]
    assert float(np.mean(kept)) < -5e-6
    assert abs(float(np.mean(removed))) < 1e-6


def test_a_turn_counts_when_its_probability_reaches_the_onset() -> None:
    probs = np.zeros(100)
    probs[10:20] = 0.6  # the first turn (0.32-0.64 s) reaches 0.5
    probs[40:50] = 0.4  # the second does not
    turns = [SimpleNamespace(start=0.3, end=0.7), SimpleNamespace(start=1.25, end=1.6)]
    assert heard(probs, turns, 0.5) == (1, 10)


def test_the_report_names_every_way_the_audio_arrived() -> None:
    row = {"turns": 10, "reached": 9, "windows": 100, "speech_windows": 40}
    e2e = {"missed_rate": 0.1, "false_cutoff_rate": 0.2, "pauses_cut": 2, "pauses": 10,
           "eot_p50": 0.5, "eot_p90": 1.0, "wer": 0.13}
    text = markdown({"machine": {"cpu": "x", "cores": 2, "git_commit": "abc"}, "onset": 0.5,
                     "vad": {"tel8k": {"before": row, "now": row}}, "e2e": {"µ-law": e2e}})
    assert "| tel8k | before | 9 of 10 | 0.400 |" in text
    assert "| µ-law | 10.0% | 20.0% (2/10) | 500 ms | 1000 ms | 13.0% |" in text
