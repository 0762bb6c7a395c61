"""The end-of-turn estimate: how a transcript ends, the features of a pause, the committed
learned model on literal evidence, and the confidence ramp over silence."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest
from helpers.server_fakes import PINNED_MODEL

from flux_cli.engine.detector import DEFAULT_CONFIG, Detector
from flux_cli.engine.endings import ending_kind
from flux_cli.engine.eot_model import MODEL_FILE, EotModel, default_model, features
from flux_cli.engine.evidence import PauseEvidence
from flux_cli.protocol import Word


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("My name is...", "ellipsis"),
        ("So the thing is…", "ellipsis"),
        ("I would like to book a table for", "continuation"),
        ("We will need a high chair and.", "continuation"),  # Whisper's stray period
        ("Um", "continuation"),
        ("I ordered a blue jacket,", "comma"),
        ("Does that work for you?", "question"),
        ("Yes, that works.", "period"),
        ("That works", "no_punct"),
        ("Thank you.", "closing"),
        ("That is all, thanks, goodbye.", "closing"),
        ("Yes.", "short_answer"),
        ("The best number to reach me is.", "verb"),  # Whisper's stray period again
        ("Yes, it is.", "period"),  # a short answer is not waiting for a verb's complement
        ("We will", "verb"),
        ("Actually", "discourse"),
        ("Let me check.", "hold"),
        ("Okay, give me one second", "hold"),
        ("My number is 5241", "number"),
        ("", "empty"),
    ],
)
def test_ending_kind(text: str, kind: str) -> None:
    assert ending_kind(text) == kind


def words(*spans: tuple[str, float, float, float]) -> tuple[Word, ...]:
    return tuple(Word(w, c, s, e) for w, c, s, e in spans)


FINISHED = PauseEvidence(
    0.97,
    "I would like the new card sent to my work address.",
    words(("I", 0.9, 0.0, 0.1), ("would", 0.95, 0.1, 0.3), ("like", 0.95, 0.3, 0.5),
          ("the", 0.95, 0.5, 0.6), ("new", 0.95, 0.6, 0.8), ("card", 0.95, 0.8, 1.0),
          ("sent", 0.95, 1.0, 1.2), ("to", 0.95, 1.2, 1.3), ("my", 0.95, 1.3, 1.4),
          ("work", 0.95, 1.4, 1.6), ("address.", 0.9, 1.6, 2.1)),
    3.5,  # 11 words in 3.5 s: an ordinary rate
)
UNFINISHED = PauseEvidence(
    0.6,
    "I would like to book a table for",
    words(("I", 0.9, 0.0, 0.1), ("would", 0.95, 0.1, 0.3), ("like", 0.95, 0.3, 0.5),
          ("to", 0.95, 0.5, 0.6), ("book", 0.95, 0.6, 0.8), ("a", 0.95, 0.8, 0.9),
          ("table", 0.95, 0.9, 1.2), ("for", 0.8, 1.2, 1.35)),
    2.5,
)
QUESTION = PauseEvidence(
    0.97,
    "Could you check my order, please?",
    words(("Could", 0.9, 0.0, 0.2), ("you", 0.95, 0.2, 0.35), ("check", 0.95, 0.35, 0.6),
          ("my", 0.95, 0.6, 0.75), ("order,", 0.9, 0.75, 1.1), ("please?", 0.9, 1.1, 1.7)),
    1.7,
)


def test_features_of_a_pause() -> None:
    f = features(FINISHED)
    assert f["bias"] == 1.0
    assert f["smart_logit"] == pytest.approx(math.log(0.97 / 0.03))
    assert f["kind_period"] == 1.0 and "kind_continuation" not in f
    assert f["log_words"] == pytest.approx(math.log1p(11))
    assert f["last_conf"] == pytest.approx(0.9)
    assert f["last_stretch"] == pytest.approx(math.log(0.5 / 0.2))  # "address." is stretched
    assert f["rate"] == pytest.approx(11 / 3.5)
    g = features(UNFINISHED)
    assert g["kind_continuation"] == 1.0
    assert features(PauseEvidence(0.5, "")) == {"bias": 1.0, "smart_logit": 0.0}


def test_the_committed_model_loads_and_scores_literal_evidence_as_committed() -> None:
    data = json.loads(MODEL_FILE.read_text())
    model = default_model()
    assert dict(model.weights) == data["weights"]
    w = data["weights"]
    for evidence in (FINISHED, UNFINISHED):
        f = features(evidence)
        base = sum(w.get(k, 0.0) * v for k, v in f.items())
        slope = w["silence_s"] + sum(w.get(k + "*s", 0.0) * v for k, v in f.items())
        assert model.line(evidence) == pytest.approx((base, slope))
        assert slope > 0
    assert model.uses_smart_turn
    assert EotModel.from_json(model.to_json()) == model


def silence_to_reach(detector: Detector, evidence: PauseEvidence, threshold: float) -> float:
    line = detector.judge(evidence)
    s = detector.config.decide_after_s
    while detector.paused(line, s) < threshold and s < 10:
        s += 0.032
    return s


def test_the_committed_model_ends_on_strong_evidence_at_once_and_waits_on_weak(
) -> None:
    detector = Detector()
    assert silence_to_reach(detector, QUESTION, 0.7) == pytest.approx(0.192)  # decision point
    assert silence_to_reach(detector, FINISHED, 0.7) <= 0.6
    assert silence_to_reach(detector, UNFINISHED, 0.7) > 1.2
    # the acoustic model moves it: the same words with a "not done" prosody wait longer
    doubtful = dataclasses.replace(FINISHED, smart_turn=0.05)
    assert silence_to_reach(detector, doubtful, 0.7) > silence_to_reach(detector, FINISHED, 0.7)


def test_confidence_rises_with_silence_and_never_reaches_one() -> None:
    detector = Detector()
    line = detector.judge(PauseEvidence(smart_turn=0.99, transcript="Thank you."))
    ramp = [detector.paused(line, s / 10) for s in range(2, 100)]
    assert ramp == sorted(ramp)
    assert max(ramp) < 1.0  # eot_threshold=1.0 means the model never ends a turn
    assert detector.undecided(0.1) < detector.undecided(0.5) < 1.0
    assert detector.speaking() < 0.1


def test_a_config_can_carry_its_own_model() -> None:
    pinned = Detector(dataclasses.replace(DEFAULT_CONFIG, model=PINNED_MODEL))
    assert pinned.model is PINNED_MODEL
    assert pinned.judge(PauseEvidence(0.5, "Okay.")) != pinned.judge(
        PauseEvidence(0.5, "and")
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        DEFAULT_CONFIG.decide_after_s = 0.0  # type: ignore[misc]
