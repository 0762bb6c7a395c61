"""The DC blocker on telephone-band streams: the offset goes, speech stays, blocks do not matter."""

from __future__ import annotations

import numpy as np

from flux_cli.audio.dc_block import DcBlocker

RATE = 8000


def sine(freq: float, seconds: float, amp: float = 0.1) -> np.ndarray:
    t = np.arange(round(RATE * seconds)) / RATE
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def test_a_constant_offset_is_gone_after_one_window() -> None:
    blocker = DcBlocker(RATE)
    out = blocker.process(sine(300.0, 2.0) + np.float32(-5e-5))
    settled = out[blocker.window:]
    assert abs(float(np.mean(settled))) < 1e-6


def test_speech_band_tones_pass_unchanged() -> None:
    for freq in (100.0, 300.0, 1000.0, 3400.0):
        x = sine(freq, 2.0)
        out = DcBlocker(RATE).process(x)[RATE:]
        gain_db = 20 * np.log10(np.std(out) / np.std(x[RATE:]))
        assert abs(gain_db) < 0.1, (freq, gain_db)


def test_the_first_samples_pass_as_they_came() -> None:
    """History before the stream counts as silence: no onset is eaten by a first-sample mean."""
    x = sine(440.0, 0.1) + np.float32(0.01)
    out = DcBlocker(RATE).process(x)
    assert np.max(np.abs(out[:80] - x[:80])) < 5e-4  # of a 0.1 tone: the mean of 10 ms / 0.5 s


def test_block_sizes_do_not_change_the_output() -> None:
    rng = np.random.default_rng(3)
    x = (rng.normal(0.0, 0.05, 3 * RATE) + 2e-3).astype(np.float32)
    whole = DcBlocker(RATE).process(x)
    blocker = DcBlocker(RATE)
    sizes = [1, 159, 160, 4001, 7]
    parts, pos, i = [], 0, 0
    while pos < len(x):
        parts.append(blocker.process(x[pos : pos + sizes[i % len(sizes)]]))
        pos += sizes[i % len(sizes)]
        i += 1
    assert np.array_equal(np.concatenate(parts), whole)
    assert DcBlocker(RATE).process(np.zeros(0, np.float32)).size == 0
