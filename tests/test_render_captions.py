"""Cue splitting and caption formats on literal turns, checked with real SRT/WebVTT parsers."""

from __future__ import annotations

import io
import itertools

import srt
import webvtt

from flux_cli.protocol import Word
from flux_cli.render.captions import (
    CaptionWriter,
    CueLimits,
    format_cues,
    timestamp,
    turn_cues,
    wrap,
)
from flux_cli.render.state import Turn

LONG = (
    "Good morning I would like to book a cleaning for next week. Is there anything on "
    "Tuesday morning or maybe Wednesday afternoon if that is easier for the hygienist?"
)


def timed_turn(text: str, start: float = 1.0, per_word: float = 0.4, **kw: object) -> Turn:
    words = tuple(
        Word(w, 0.9, start + i * per_word, start + i * per_word + per_word * 0.8)
        for i, w in enumerate(text.split())
    )
    end = start + len(words) * per_word + 0.5
    return Turn(0, start, end, text, words, finished=True, **kw)  # type: ignore[arg-type]


def test_timestamps() -> None:
    assert timestamp(3723.4567, ",") == "01:02:03,457"
    assert timestamp(0.0, ".") == "00:00:00.000"
    assert timestamp(-1, ".") == "00:00:00.000"


def test_wrap_fills_lines_and_keeps_long_words_whole() -> None:
    assert wrap(["a", "bb", "ccc"], 4) == ["a bb", "ccc"]
    assert wrap(["x" * 50, "y"], 42) == ["x" * 50, "y"]


def test_long_turn_is_split_into_readable_cues_at_word_times() -> None:
    turn = timed_turn(LONG)
    cues = turn_cues(turn)
    assert len(cues) >= 3
    assert " ".join(" ".join(c.lines) for c in cues) == LONG
    starts = {w.start for w in turn.words}
    for cue in cues:
        assert len(cue.lines) <= 2 and all(len(line) <= 42 for line in cue.lines)
        assert cue.end - cue.start <= 7.0
        assert cue.start in starts  # cut between words, at a word's own time
    assert [c.start for c in cues] == sorted(c.start for c in cues)
    # the cut prefers the sentence end when one is near
    assert cues[0].lines[-1].endswith("next week.")


def test_slow_speech_is_cut_at_seven_seconds() -> None:
    cues = turn_cues(timed_turn("one two three four five six", per_word=2.0))
    assert len(cues) == 2
    assert all(c.end - c.start <= 7.0 for c in cues)


def test_without_word_times_the_turn_is_spread_by_characters() -> None:
    turn = Turn(0, 2.0, 12.0, LONG, finished=True)
    cues = turn_cues(turn, CueLimits(line_chars=30))
    assert cues[0].start == 2.0 and cues[-1].end <= 12.0
    assert all(a.end <= b.start for a, b in itertools.pairwise(cues))


def test_a_turn_with_no_words_makes_no_cue() -> None:
    assert turn_cues(Turn(0, 1.0, 2.0, "  ")) == []


def test_srt_and_vtt_parse_with_real_parsers_and_vtt_names_voices() -> None:
    cues = [
        *turn_cues(timed_turn("Hello there, how are you?"), voice="agent"),
        *turn_cues(timed_turn("Fine <really> & you?", start=4.0), voice="the caller"),
    ]
    subs = list(srt.parse(format_cues(cues, "srt")))
    assert [s.content for s in subs] == [
        "agent: Hello there, how are you?",
        "the caller: Fine <really> & you?",
    ]
    vtt = webvtt.from_string(format_cues(cues, "vtt")).captions
    assert [c.voice for c in vtt] == ["agent", "the_caller"]
    assert vtt[1].text == "Fine &lt;really&gt; &amp; you?"


def test_writer_flushes_whole_cues_and_never_goes_back_in_time() -> None:
    out = io.StringIO()
    writer = CaptionWriter(out, "vtt")
    assert out.getvalue() == "WEBVTT\n\n"  # valid before any turn
    writer.write_turn(timed_turn("first speaker talks", start=5.0), "a")
    writer.write_turn(timed_turn("overlapping", start=4.0), "b")
    cues = webvtt.from_string(out.getvalue()).captions
    assert [c.voice for c in cues] == ["a", "b"]
    assert cues[1].start_in_seconds >= cues[0].start_in_seconds
