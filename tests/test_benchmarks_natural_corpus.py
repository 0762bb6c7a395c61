"""How the two-party calls are laid out: gaps add silence, negative gaps overlap the voices."""

from __future__ import annotations

import numpy as np

from benchmarks.natural_corpus import FLOOR_DBFS, PlacedTurn, assemble

RATE = 16000


def turn(seconds: float, level: float, speaker: str) -> PlacedTurn:
    t = np.arange(round(seconds * RATE)) / RATE
    audio = (level * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    return PlacedTurn(audio, [], f"{speaker} speaks.", speaker)


def test_a_gap_is_silence_between_the_turns() -> None:
    a, b = turn(1.0, 0.3, "a"), turn(0.5, 0.2, "b")
    audio, labels = assemble([a, b], [0.5, 0.25], 1.0, seed=0)
    assert [(x.start, x.end, x.voice) for x in labels] == [(0.5, 1.5, "a"), (1.75, 2.25, "b")]
    assert len(audio) == round(3.25 * RATE)
    floor = 6 * 10 ** (FLOOR_DBFS / 20)
    assert np.abs(audio[round(1.5 * RATE) + 10: round(1.75 * RATE) - 10]).max() < floor
    np.testing.assert_allclose(audio[round(1.75 * RATE): round(2.25 * RATE)], b.audio, atol=floor)


def test_a_negative_gap_overlaps_the_next_voice_with_the_last() -> None:
    a, b = turn(1.0, 0.3, "a"), turn(0.5, 0.2, "b")
    audio, labels = assemble([a, b], [0.5, -0.25], 1.0, seed=0)
    assert [(x.start, x.end) for x in labels] == [(0.5, 1.5), (1.25, 1.75)]
    both = audio[round(1.25 * RATE): round(1.5 * RATE)]
    expected = a.audio[round(0.75 * RATE):] + b.audio[: round(0.25 * RATE)]
    np.testing.assert_allclose(both, expected, atol=6 * 10 ** (FLOOR_DBFS / 20))
    assert len(audio) == round(2.75 * RATE)
