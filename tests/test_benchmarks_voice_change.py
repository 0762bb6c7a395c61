"""The speaker-change benchmark's scoring on literal calls: which ends are a voice check's
mistakes (inside one voice's speech) and which changes count as ended in time."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.corpus import Call
from benchmarks.synth import TurnLabel
from benchmarks.voice_change import EndEvent, changes_ended, cut_kinds, ends_inside_speech

# A said two things with a pause (1.0-1.6 s) inside; B answered 100 ms later; A again.
CALL = Call("literal", Path("literal.wav"), 9.0, "a+b", [
    TurnLabel("one, two", 0.0, 2.5, pauses=[(1.0, 1.6)], voice="a"),
    TurnLabel("three", 2.6, 5.0, voice="b"),
    TurnLabel("four", 5.5, 8.0, voice="a"),
])


def test_an_end_just_after_another_voice_began_is_not_a_mistake() -> None:
    assert ends_inside_speech(CALL, [2.6 + 0.5]) == 0  # the check, 0.5 s into B: right
    assert changes_ended(CALL, [2.6 + 0.5])[:2] == (1, 2)


def test_an_end_inside_one_voices_speech_is_a_mistake() -> None:
    assert ends_inside_speech(CALL, [2.0]) == 1  # 0.4 s after A resumed: A taken for two
    assert ends_inside_speech(CALL, [4.0]) == 1  # deep inside B's turn
    assert ends_inside_speech(CALL, [6.5]) == 1  # A again, past the 600 ms after B


def test_ends_in_pauses_and_at_turn_ends_are_scored_elsewhere() -> None:
    assert ends_inside_speech(CALL, [1.2, 2.45, 5.2, 8.1]) == 0  # a pause, ends, a gap


def test_a_cut_pause_is_charged_to_what_ended_the_turn_there() -> None:
    call = Call("cuts", Path("cuts.wav"), 12.0, "a+b", [
        TurnLabel("one, two", 0.0, 2.5, pauses=[(1.0, 1.6)], voice="a"),
        TurnLabel("um, three, four", 2.6, 6.0, pauses=[(3.0, 3.6), (4.5, 5.0)], voice="b"),
        TurnLabel("five, six", 6.5, 9.0, pauses=[(7.5, 8.0)], voice="a"),
    ])
    own = EndEvent(1.3, 0.0, taken_over=False)  # the model, in A's turn as it began
    late_change = EndEvent(3.2, 0.0, taken_over=True)  # A's turn ended by B, in B's first pause
    after_cut = EndEvent(4.7, 3.6, taken_over=False)  # B resumed as a new turn, cut again
    merged = EndEvent(7.7, 2.6, taken_over=False)  # B's turn ran on into A's
    kinds = cut_kinds(call, [own, late_change, after_cut, merged])
    assert {k: kinds[k] for k in ("own_turn", "taken_over", "later", "merged")} == {
        "own_turn": 1, "taken_over": 1, "later": 1, "merged": 1}
    # the turn open when each pause began: A's own (1.0), A's run on into B's (3.0), B's
    # after the cut (4.5), B's run on into A's (7.5)
    assert (kinds["pauses_in_own_turn"], kinds["pauses_in_merged"],
            kinds["pauses_in_later"]) == (1, 2, 1)
    at_end = cut_kinds(call, [EndEvent(2.45, 0.0, taken_over=False)])  # a turn's end, no cut
    assert sum(at_end[k] for k in ("own_turn", "taken_over", "later", "merged")) == 0
    assert at_end["pauses_in_own_turn"] == 1  # A's pause, in A's turn; the rest in no turn


def test_a_change_ends_in_time_only_within_600_ms_of_the_new_voice() -> None:
    ok, total, latencies = changes_ended(CALL, [2.6 + 0.7, 5.5 + 0.2])
    assert (ok, total) == (1, 2)
    assert [round(x, 3) for x in latencies] == [0.2]


def test_overlapping_changes_are_counted_apart() -> None:
    overlap = Call("overlap", Path("overlap.wav"), 6.0, "a+b", [
        TurnLabel("one", 0.0, 2.0, voice="a"),
        TurnLabel("two", 1.8, 3.0, voice="b"),  # starts 200 ms before A stops
        TurnLabel("three", 3.2, 5.0, voice="a"),
    ])
    assert changes_ended(overlap, [2.3, 3.3])[:2] == (2, 2)
    assert changes_ended(overlap, [2.3, 3.3], overlapping=True)[:2] == (1, 1)
    assert changes_ended(overlap, [3.3], overlapping=True)[:2] == (0, 1)


def test_a_missed_change_is_sorted_by_the_first_step_that_failed() -> None:
    from benchmarks.voice_change_misses import classify

    call = Call("literal", Path("literal.wav"), 12.0, "a+b", [
        TurnLabel("one", 0.0, 2.0, voice="a"),
        TurnLabel("two", 2.1, 4.0, voice="b"),  # compared at its onset, judged the same voice
        TurnLabel("three", 4.1, 6.0, voice="a"),  # no resume heard, a turn open
        TurnLabel("four", 6.1, 8.0, voice="b"),  # ended in time
        TurnLabel("five", 9.0, 10.0, voice="a"),  # B's turn was ended early, none open
    ])
    notes = [("resumed", 2.15, None), ("same", 2.15, 0.41)]
    events = [("StartOfTurn", 0.3), ("EndOfTurn", 6.4), ("StartOfTurn", 6.6),
              ("EndOfTurn", 7.2)]
    assert classify(call, notes, events) == [
        ("same voice", 0.41), ("no pause heard", None), ("ended", None), ("no turn open", None)]


def test_a_change_the_calls_voices_missed_is_sorted_by_the_first_reason() -> None:
    from benchmarks.voice_change_misses import classify_voices

    call = Call("literal", Path("literal.wav"), 18.0, "a+b", [
        TurnLabel("one", 0.0, 2.0, voice="a"),
        TurnLabel("two", 2.1, 4.0, voice="b"),  # before the voices were known (at 3.0 s)
        TurnLabel("three", 4.1, 6.0, voice="a"),  # ended 0.9 s late
        TurnLabel("four", 6.1, 8.0, voice="b"),  # ended in time
        TurnLabel("five", 8.1, 10.0, voice="a"),  # blocks judged, none another voice
        TurnLabel("six", 10.1, 12.0, voice="b"),  # no block judged near it
        TurnLabel("seven", 13.0, 16.0, voice="a"),  # ended inside its speech at 14.8 ...
        TurnLabel("eight", 16.1, 17.0, voice="b"),  # ... so no turn was open here
    ])
    judged = [(7.9, False), (8.2, False), (8.4, False)]
    events = [("StartOfTurn", 0.3), ("EndOfTurn", 5.0), ("StartOfTurn", 5.0),
              ("EndOfTurn", 6.4), ("StartOfTurn", 6.4), ("EndOfTurn", 14.8)]
    assert classify_voices(call, judged, events, known=3.0) == [
        "voices not known yet", "found late", "ended", "judged the same voice", "not judged",
        "not judged", "no turn open"]


def test_the_calls_voices_settings_can_be_tried_from_the_command_line() -> None:
    from benchmarks.voice_change import voice_config, with_profile

    config = with_profile(voice_config(None), ["own_blocks=3", "margin=0.1",
                                               "judge_hop_s=None"])
    profiles = config.voice_change.profiles
    assert (profiles.own_blocks, profiles.margin, profiles.judge_hop_s) == (3, 0.1, None)
    with pytest.raises(SystemExit, match="no setting 'nope'"):
        with_profile(voice_config(None), ["nope=1"])


def test_changes_are_counted_before_and_after_the_calls_voices_were_known() -> None:
    from benchmarks.voice_change_misses import known_split

    events = [("StartOfTurn", 0.3), ("EndOfTurn", 2.4), ("StartOfTurn", 2.6),
              ("EndOfTurn", 5.9), ("StartOfTurn", 6.1), ("EndOfTurn", 7.0)]
    call = Call("literal", Path("literal.wav"), 9.0, "a+b", [
        TurnLabel("one", 0.0, 2.0, voice="a"),
        TurnLabel("two", 2.1, 4.0, voice="b"),  # before (known at 3.0 s), ended
        TurnLabel("three", 4.1, 6.0, voice="a"),  # after, ended 1.8 s late: not in time
        TurnLabel("four", 6.1, 8.0, voice="a"),  # the same voice: no change
        TurnLabel("five", 8.1, 9.0, voice="b"),  # after, not ended
    ])
    assert known_split(call, events, known=3.0) == {
        "before": 1, "before_ended": 1, "after": 2, "after_ended": 0}
    assert known_split(call, events, known=None)["before"] == 3  # never known: all before


def test_the_ceiling_counts_changes_the_margin_finds_in_time_and_one_voices_blocks_it_takes(
) -> None:
    from benchmarks.voice_change_misses import ceiling_counts
    from flux_cli.engine.voice_profiles import ProfileConfig

    config = ProfileConfig()

    def margin(end_s: float, own: str, other: str) -> float | None:
        """B (from 2.6 s) is clear in the block ending 0.544 s in, not speech enough before
        0.5 s; A's return (5.5 s) never is; one block of B's own turn sounds like A."""
        if 2.6 + 0.53 <= end_s <= 2.6 + 0.55:
            return 0.2
        if own == "b" and 3.78 <= end_s < 3.8:
            return 0.13
        return None if 2.6 <= end_s < 2.6 + 0.5 else 0.0

    assert ceiling_counts(CALL, margin, {"a", "b"}, config) == {
        "changes": 2, "found": 1, "same_blocks": 38, "same_fired": 1}
