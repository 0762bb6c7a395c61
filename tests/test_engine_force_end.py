"""ForceEndTurn (Enter) in the middle of a word: the word is said once, and no word is lost.

Whisper completes a word from its first sound, so the turn that ends says it; the next turn
used to hear it again (decoded from before its onset). Cuts are at the middle of a word, on
committed clips (two flite sentences).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from flux_cli.engine.interfaces import Engine, Transcript
from flux_cli.engine.models.loader import load_engine
from flux_cli.engine.session import TurnSession
from flux_cli.engine.turn_audio import without_repeated_head
from flux_cli.protocol import ForceEndTurn, StreamParams, TurnInfo, Word

ROOT = Path(__file__).resolve().parent.parent
FRAME = 1280  # 80 ms


def words_of(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


def ends(engine: Engine, audio: np.ndarray, cut: int | None) -> list[TurnInfo]:
    session = TurnSession(vad=engine.vad.new_stream(), transcriber=engine.transcriber,
                          smart_turn=engine.smart_turn, params=StreamParams(), request_id="t")
    out = []
    for i in range(0, len(audio), FRAME):
        if i == cut:
            out += session.control(ForceEndTurn())
        out += session.feed(audio[i : i + FRAME])
    out += session.feed(np.zeros(3 * 16000, dtype=np.float32))
    return [m for m in out if isinstance(m, TurnInfo) and m.event == "EndOfTurn"]


@pytest.mark.slow
@pytest.mark.parametrize(("clip", "cut_words"), [
    ("samples/sentence.wav", ("to", "check", "my")),
    ("tests/data/speech/order_paid.wav", ("credit", "card")),
])
def test_enter_in_the_middle_of_a_word_says_it_once(clip: str, cut_words: tuple[str]) -> None:
    engine = load_engine()
    audio, rate = sf.read(ROOT / clip, dtype="float32")
    assert rate == 16000
    (whole,) = ends(engine, audio, None)
    expected = words_of(whole.transcript)
    for target in cut_words:
        word = next(w for w in whole.words if words_of(w.word) == [target])
        assert word.start is not None and word.end is not None
        cut = int((word.start + word.end) / 2 * 16000) // FRAME * FRAME
        first, second = ends(engine, audio, cut)
        assert first.trigger == "manual"
        said = words_of(first.transcript), words_of(second.transcript)
        assert said[0][-1] != said[1][0], (target, said)
        assert said[0] + said[1] == expected, (target, said)


def test_the_next_turn_drops_only_what_repeats_the_end_of_the_last() -> None:
    def transcript(*words: str) -> Transcript:
        return Transcript(" ".join(words), [Word(w, 0.9, 0.0, 0.1) for w in words])

    said = transcript("check", "the", "status.")
    assert without_repeated_head(said, ("to", "check")).text == "the status."
    assert without_repeated_head(transcript("to", "check", "it."), ("like", "to", "check")).text \
        == "it."
    assert without_repeated_head(said, ("check", "this")) is said  # no overlap: unchanged
    assert without_repeated_head(said, None) is said
