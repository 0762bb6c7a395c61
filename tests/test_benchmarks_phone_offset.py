"""benchmarks.phone_offset's pure parts: the codec's offset, the count at the VAD, the report."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from benchmarks.phone_offset import as_pcm16, band_verdict, g711, heard, markdown, to_16k, wire_16k


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


def test_the_band_check_rules_an_upsampled_phone_line_band_limited_and_noise_full_band() -> None:
    coded = g711(speechlike(), "mulaw")
    narrow, ratio = band_verdict(as_pcm16(to_16k(coded, 8000)), 16000)
    assert narrow is True and ratio is not None and ratio < -33
    noise = np.random.default_rng(0).normal(0, 0.01, 32000).astype(np.float32)
    assert band_verdict(as_pcm16(noise), 16000)[0] is False


def speechlike() -> np.ndarray:
    """Two seconds of noise in the phone band (8 kHz): something in every band it passes."""
    noise = np.random.default_rng(1).normal(0, 0.05, 2 * 8000)
    spectrum = np.fft.rfft(noise)
    freqs = np.fft.rfftfreq(noise.size, 1 / 8000)
    spectrum[(freqs < 300) | (freqs > 3400)] = 0
    return np.fft.irfft(spectrum, n=noise.size).astype(np.float32)


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
                     "vad": {"tel8k": {"before": row, "now": row}}, "e2e": {"µ-law": e2e},
                     "band": [{"set": "real", "split": "test", "how": "as sent",
                               "level": "10 dB quieter", "calls": 17,
                               "band_limited": 0, "full_band": 17, "no_verdict": 0,
                               "ratio_min": -12.25, "ratio_max": 0.5}]})
    assert "| real | test | as sent | 10 dB quieter | 17 | 0 | 17 | 0 | -12.2 to 0.5 |" in text
    assert "| tel8k | before | 9 of 10 | 0.400 |" in text
    assert "| µ-law | 10.0% | 20.0% (2/10) | 500 ms | 1000 ms | 13.0% |" in text
