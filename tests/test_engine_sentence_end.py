"""Whisper's sentence-end probability on committed natural-prosody clips (real model)."""

from __future__ import annotations

import numpy as np
import pytest
from helpers.speech import RATE, natural_clip

from flux_cli.engine.models import loader
from flux_cli.engine.models.sentence_end import SentenceEnd, end_probability, strip_trailing


def test_trailing_punctuation_tokens_are_stripped() -> None:
    assert strip_trailing([1, 2, 3, 4], [True, True, False, False]) == [1, 2]
    assert strip_trailing([5], [False]) == []


def test_end_probability_adds_the_marks_and_stays_inside_zero_and_one() -> None:
    assert end_probability([0.5, 0.25, 0.0]) == pytest.approx(0.75)
    assert 0.0 < end_probability([0.0, 0.0, 0.0]) < 1e-5
    assert 1.0 - 1e-5 < end_probability([0.7, 0.3, 0.1]) < 1.0


@pytest.fixture(scope="module")
def scorer() -> SentenceEnd:
    return SentenceEnd(loader.load_engine().transcriber)




@pytest.mark.slow
@pytest.mark.parametrize("name", ["table_pause", "maybe_pause"])
def test_a_sentence_cut_at_its_pause_is_unfinished_and_the_whole_one_finished(
    scorer: SentenceEnd, name: str
) -> None:
    """hibari's voice: "I would like to book a table for" | "two people on Friday evening."
    (and "Well, I was thinking that maybe we" | ...), cut where the speaker paused."""
    audio, info = natural_clip(name)
    cut = round((info["pause_s"][0] + 0.15) * RATE)  # the decision point's decode slice
    text_cut, p_cut = scorer.probability(audio[:cut])
    text_whole, p_whole = scorer.probability(audio)
    assert text_cut and text_whole
    assert p_cut is not None and p_whole is not None
    assert p_cut < 0.2 < 0.8 < p_whole


@pytest.mark.slow
def test_silence_has_no_sentence_end(scorer: SentenceEnd) -> None:
    assert scorer.probability(np.zeros(RATE, dtype=np.float32)) == ("", None)
