"""What the signals said at each false cut-off: on literal pauses, with the real text model."""

from __future__ import annotations

import dataclasses
import math

from benchmarks import cutoff_anatomy
from benchmarks.eot_train import Pause, PauseRecord, replay
from flux_cli.engine.models import text_eou


def pause(speech_end: float, text: str, *, smart_turn: float, sentence_end: float,
          length: float = math.inf, windows: list[tuple[float, float]] | None = None) -> Pause:
    is_end = math.isinf(length)
    record = PauseRecord(speech_end, speech_end + 0.192, None if is_end else speech_end + length,
                         smart_turn, text, [], 1.0, sentence_end)
    return Pause(record, is_end, length, 10.0, windows or [])


def cut_everywhere(p: Pause) -> float:
    return 0.2


TESTS = cutoff_anatomy.signals(text_eou.default_model())


def test_each_cut_window_names_the_pause_that_cut_it() -> None:
    finished = pause(2.0, "Can you text me a confirmation?", smart_turn=0.9, sentence_end=0.95,
                     length=0.6, windows=[(2.0, 2.6)])
    unfinished = pause(4.0, "My phone number is", smart_turn=0.2, sentence_end=0.05,
                       length=0.5, windows=[(4.0, 4.5)])
    end = pause(9.0, "That is all, thanks.", smart_turn=0.95, sentence_end=0.9)
    windows = [(2.0, 2.6), (4.0, 4.5)]
    turn = [dataclasses.replace(p, cut_window=windows) for p in (finished, unfinished, end)]
    r = replay([turn], cut_everywhere)
    assert r.cut == 2 and r.cut_by == [turn[0], turn[1]]


def test_a_finished_question_is_finished_by_every_signal_and_an_open_verb_by_none() -> None:
    finished = pause(2.0, "Can you text me a confirmation?", smart_turn=0.9, sentence_end=0.95)
    unfinished = pause(4.0, "My phone number is", smart_turn=0.2, sentence_end=0.05)
    counts = cutoff_anatomy.tally([finished, unfinished], TESTS)
    assert counts == {"words": 1, "smart_turn": 1, "text_model": 1, "whisper_end": 1,
                      "words_and_text_model": 1, "all": 1, "n": 2}


def test_anatomy_charges_the_cut_off_and_reads_the_turn_ends() -> None:
    windows = [(2.0, 5.0)]  # three seconds of silence: the committed model ends it in them
    inside = pause(2.0, "Can you text me a confirmation?", smart_turn=0.9, sentence_end=0.95,
                   length=3.0, windows=windows)
    end = dataclasses.replace(
        pause(9.0, "My phone number is", smart_turn=0.2, sentence_end=0.05), cut_window=windows)
    model = cutoff_anatomy.default_model()
    a = cutoff_anatomy.anatomy([[inside, end]], model, 0.5, TESTS)
    assert a["cut"] == 1 and a["cut_offs"]["all"] == 1
    assert a["turn_ends"] == {"words": 0, "smart_turn": 0, "text_model": 0, "whisper_end": 0,
                              "words_and_text_model": 0, "all": 0, "n": 1}
