"""The eager-threshold and second-look benchmarks: pure parts on literal pauses."""

from __future__ import annotations

import math

import pytest

from benchmarks import second_look
from benchmarks.eager import tally
from benchmarks.eot_train import Pause, PauseRecord, model_rule
from flux_cli.engine.eot_model import EotModel

# conf = sigmoid(-2 + 4 s): 0.5 at s = 0.5, 0.7 at s ≈ 0.712
MODEL = EotModel({"bias": -2.0, "silence_s": 4.0})


def pause(speech_end: float, *, length: float, is_end: bool, smart: float = 0.5,
          label_end: float = 10.0) -> Pause:
    record = PauseRecord(speech_end, speech_end + 0.192, None if is_end else speech_end + length,
                         smart, "We can do that.", [], 1.0)
    return Pause(record, is_end, math.inf if is_end else length, label_end, [])


def test_eager_saves_the_time_between_the_two_thresholds_at_a_turn_end() -> None:
    end = pause(3.0, length=math.inf, is_end=True, label_end=3.0)
    result = tally([[end]], MODEL, eager=0.5).summary()
    eager_s, eot_s = model_rule(MODEL, 0.5)(end), model_rule(MODEL, 0.7)(end)
    assert eager_s == pytest.approx(0.5) and eot_s == pytest.approx(0.7118, abs=1e-3)
    assert result["saved_p50_ms"] == round((eot_s - eager_s) * 1000)
    assert result["eager_p50_ms"] == 500 and result["end_of_turns"] == 1
    assert result["resumed"] == 0 and result["extra_replies"] == 0


def test_a_pause_resumed_between_the_thresholds_is_a_reply_thrown_away() -> None:
    resumed = pause(1.0, length=0.6, is_end=False)  # eager at 0.5 s, speech back at 0.6 s
    short = pause(2.0, length=0.3, is_end=False)  # back before either threshold
    cut = pause(4.0, length=1.5, is_end=False)  # the EndOfTurn comes first: a cut-off
    end = pause(6.0, length=math.inf, is_end=True, label_end=6.0)
    result = tally([[resumed, short, cut, end]], MODEL, eager=0.5).summary()
    assert result["resumed"] == 1
    assert result["end_of_turns"] == 2  # the cut-off and the real end
    assert result["extra_replies"] == 0.5


def test_separation_compares_the_pauses_still_silent_at_each_look() -> None:
    look = str(second_look.SECOND)
    pauses = [
        {"is_end": True, "scores": {"decision": 0.9, look: 0.8}},
        {"is_end": False, "scores": {"decision": 0.95, look: 0.2}},  # sounded finished at first
        {"is_end": False, "scores": {"decision": 0.1}},  # resumed before the second look
    ]
    row = second_look.separation(pauses)[look]
    assert (row["ends"], row["inside"]) == (1, 1)
    assert row["decision"] == 0.0 and row["later"] == 1.0 and row["lower"] == 1.0


def test_the_second_look_only_lowers_a_score_from_its_own_silence_on() -> None:
    confident = EotModel({"bias": -2.0, "silence_s": 2.0, "smart_logit": 1.0})
    p = pause(1.0, length=math.inf, is_end=True, smart=0.9)
    first = model_rule(confident, 0.7)(p)  # logit(0.9) = 2.2: crosses at ≈ 0.32 s
    assert first < second_look.SECOND
    rule = second_look.second_look_rule(confident, 0.7, {id(p.record): 0.1})
    assert rule(p) == pytest.approx(first)  # ended before the second look: unchanged
    slow = pause(1.0, length=math.inf, is_end=True, smart=0.6)
    later = second_look.second_look_rule(confident, 0.7, {id(slow.record): 0.1})(slow)
    assert later > model_rule(confident, 0.7)(slow) > second_look.SECOND
    higher = second_look.second_look_rule(confident, 0.7, {id(slow.record): 0.99})(slow)
    assert higher == pytest.approx(model_rule(confident, 0.7)(slow))  # the lower score counts
