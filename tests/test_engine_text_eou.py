"""The text end-of-utterance signal on literal sentences (committed weights, no audio)."""

from __future__ import annotations

import pytest

from flux_cli.engine.models.text_eou import WEIGHTS_FILE, default_model, words

# (finished, the same sentence stopped mid-way): what a caller says before and at a pause.
PAIRS = [
    ("I would like to book a table for two.", "I would like to book a table for"),
    ("Could you tell me what time it is?", "Could you tell me what"),
    ("My phone number is seven three nine.", "My phone number is"),
    ("Well, I was thinking that maybe we could meet next week.",
     "Well, I was thinking that maybe we"),
    ("Thank you so much.", "Thank you so much, and"),
]


@pytest.mark.parametrize(("finished", "unfinished"), PAIRS)
def test_a_finished_sentence_scores_above_its_unfinished_prefix(
    finished: str, unfinished: str
) -> None:
    model = default_model()
    assert model.probability(finished) > model.probability(unfinished) + 0.1


def test_plainly_unfinished_and_finished_sentences_fall_on_either_side_of_one_half() -> None:
    model = default_model()
    assert model.probability("I would like to book a table for") < 0.5
    assert model.probability("My email is") < 0.5
    assert model.probability("Do you have any vegetarian options on the menu?") > 0.5
    assert model.probability("Yes.") > 0.5


def test_punctuation_and_case_do_not_change_the_score() -> None:
    """Whisper's period after a fragment must not make it look finished."""
    model = default_model()
    assert model.probability("I would like to book a table for.") == pytest.approx(
        model.probability("i would like to book a table for")
    )


def test_words_drop_apostrophes_and_fold_numbers() -> None:
    assert words("I'm at 7:30, OK?") == ["im", "at", "<num>", "<num>", "ok"]


def test_empty_text_is_unfinished() -> None:
    assert default_model().probability("") == 0.0
    assert default_model().probability(" ... ") == 0.0


def test_weights_are_small_enough_to_ship() -> None:
    assert WEIGHTS_FILE.stat().st_size < 30_000_000
