"""Whisper's sentence-end probability as evidence of a pause: carried from the decision's
decode to the end-of-turn model, and computed by the real transcriber only when asked."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import cast

import numpy as np
import pytest
from helpers.server_fakes import PINNED, CountingTranscriber, FixedSmartTurn, LevelVad, script
from helpers.speech import RATE, natural_clip

from flux_cli.engine.eot_model import WHISPER_END, EotModel, features
from flux_cli.engine.evidence import PauseEvidence
from flux_cli.engine.interfaces import Audio, Transcript
from flux_cli.engine.languages import LanguageChoice
from flux_cli.engine.models import loader
from flux_cli.engine.models.asr import WhisperTranscriber
from flux_cli.engine.session import TurnSession
from flux_cli.engine.turn_audio import AudioBuffer, CachedDecoder, join_transcripts
from flux_cli.protocol import StreamParams, Word


def test_the_feature_is_the_clipped_logit_and_absent_when_not_scored() -> None:
    scored = PauseEvidence(0.5, "I would like to book a table for", sentence_end=0.2)
    assert features(scored)[WHISPER_END] == pytest.approx(math.log(0.2 / 0.8))
    assert features(dataclasses.replace(scored, sentence_end=1.0))[WHISPER_END] == (
        pytest.approx(math.log(0.99 / 0.01)))
    assert WHISPER_END not in features(dataclasses.replace(scored, sentence_end=None))
    assert WHISPER_END not in features(PauseEvidence(0.5, "", sentence_end=0.9))  # no words
    # it is learned on English decodes only, like the other text features
    assert WHISPER_END not in features(dataclasses.replace(scored, language="de"))


def test_a_model_uses_the_feature_only_when_it_weighs_it() -> None:
    assert not EotModel({"bias": 1.0}).uses(WHISPER_END)
    assert EotModel({"bias": 1.0, WHISPER_END: 0.3}).uses(WHISPER_END)
    assert EotModel({"bias": 1.0, WHISPER_END + "*s": 0.3}).uses(WHISPER_END)


def test_the_cache_and_a_joined_turn_keep_the_last_decodes_score() -> None:
    head = Transcript("Hello there.", [Word("Hello", 0.9, 0.0, 0.3)], sentence_end=0.9)
    tail = Transcript("and then", [Word("and", 0.9, 0.4, 0.5)], sentence_end=0.05)
    assert join_transcripts(head, tail).sentence_end == 0.05
    assert join_transcripts(head, Transcript("", [])).sentence_end == 0.9
    decoder = CachedDecoder(AudioBuffer(), CountingTranscriber())
    key = (0, 100, (), None)
    assert decoder.put(key, tail).sentence_end == 0.05


class ScoringTranscriber(CountingTranscriber):
    """The counting fake, with a sentence-end score that falls as the turn grows."""

    def transcribe(self, audio: Audio, *, offset_s: float, hotwords: Sequence[str] = (),
                   languages: LanguageChoice | None = None) -> Transcript:
        out = super().transcribe(audio, offset_s=offset_s, hotwords=hotwords,
                                 languages=languages)
        return dataclasses.replace(out, sentence_end=1.0 / (1 + len(out.words)))


class Recorder:
    def __init__(self) -> None:
        self.judged_evidence: list[PauseEvidence] = []

    def judged(self, speech_end_s: float, decided_at_s: float, evidence: PauseEvidence) -> None:
        self.judged_evidence.append(evidence)

    def resumed(self, at_s: float) -> None:
        pass


def test_the_decisions_decode_hands_its_score_to_the_pause_evidence() -> None:
    recorder = Recorder()
    session = TurnSession(vad=LevelVad(), transcriber=ScoringTranscriber(),
                          smart_turn=FixedSmartTurn(0.9), params=StreamParams(),
                          request_id="r", config=PINNED, observer=recorder)
    session.start()
    audio = script(("quiet", 0.3), ("speech", 1.0), ("quiet", 0.5), ("speech", 2.0),
                   ("quiet", 2.0))
    for i in range(0, len(audio), 1280):
        session.feed(audio[i: i + 1280])
    scores = [e.sentence_end for e in recorder.judged_evidence if e.sentence_end is not None]
    assert len(scores) == len(recorder.judged_evidence) >= 2
    # each judged pause carries the score of its own decode: the longer turn, the lower
    assert scores[0] > scores[-1]




@pytest.mark.slow
def test_the_real_transcriber_scores_a_finished_sentence_above_its_cut_prefix() -> None:
    """hibari's voice: "I would like to book a table for" | "two people on Friday evening."."""
    base = cast(WhisperTranscriber, loader.load_engine().transcriber)
    scoring = base.with_options(dataclasses.replace(base.options, sentence_end=True))
    audio, info = natural_clip("table_pause")
    cut = audio[: round((info["pause_s"][0] + 0.15) * RATE)]
    unfinished = scoring.transcribe(cut, offset_s=0.0)
    finished = scoring.transcribe(audio, offset_s=0.0)
    assert unfinished.sentence_end is not None and finished.sentence_end is not None
    assert unfinished.sentence_end < 0.2 < 0.8 < finished.sentence_end
    # not asked for: not computed (interim decodes never pay for it)
    plain = base.with_options(dataclasses.replace(base.options, sentence_end=False))
    assert plain.transcribe(audio, offset_s=0.0).sentence_end is None
    assert scoring.transcribe(np.zeros(RATE, dtype=np.float32), offset_s=0.0).sentence_end is None
