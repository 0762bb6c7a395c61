"""Truth from a stereo call: built from committed clips with holds, shifts, a backchannel and
an overlap put in on purpose; the derived truth must find exactly those."""

from __future__ import annotations

import numpy as np
import pytest
from helpers.speech import RATE
from helpers.stereo_calls import Part, Placed, build_call

from flux_cli.evaluate.activity import (
    ActivityRule,
    close_gaps,
    frame_levels,
    runs,
    speech_segments,
)
from flux_cli.evaluate.gaps import GapRule, derive
from flux_cli.evaluate.truth import Hold, Shift

CALLER, AGENT = 0, 1
TOLERANCE = 0.06  # seconds: the VAD's frame edges against the independent -40 dBFS rule

PARTS = [
    Part(AGENT, "stream_one", 0.0),
    Part(CALLER, "order_calling", 0.9),
    Part(CALLER, "order_not_arrived", 0.7),  # hold 0.7 s
    Part(CALLER, "order_check", 0.4),  # hold 0.4 s
    Part(AGENT, "fox_slt", 0.8),  # shift: the agent answers after 0.8 s
    Part(CALLER, "order_paid", 1.0),
    Part(AGENT, "okay", 0.3),  # a backchannel...
    Part(CALLER, "order_refund", 0.25),  # ...and the caller goes on: a hold
    Part(AGENT, "phone_number", -0.3),  # the agent starts 0.3 s before the caller stops
    Part(CALLER, "address", 0.7),  # the last turn; 2.5 s of silence after it
]


def _expected(placed: list[Placed], duration: float) -> tuple[list[Hold], list[Shift]]:
    c = {i: p for i, p in enumerate(placed)}
    holds = [Hold(c[1].end, c[2].start), Hold(c[2].end, c[3].start),
             Hold(c[5].end, c[7].start, backchannel=True)]
    shifts = [Shift(c[3].end, c[4].start, c[5].start), Shift(c[7].end, c[8].start, c[9].start),
              Shift(c[9].end, None, duration)]
    return holds, shifts


def _close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return abs(a - b) <= TOLERANCE


def _derived(call: np.ndarray) -> tuple[list[Hold], list[Shift], int]:
    caller = speech_segments(call[:, CALLER], RATE)
    agent = speech_segments(call[:, AGENT], RATE)
    truth = derive("call", caller, agent, len(call) / RATE)
    return truth.holds, truth.shifts, truth.overlaps


@pytest.mark.parametrize(
    ("noise", "bleed"), [(None, None), (-70.0, None), (-55.0, -45.0)],
    ids=["clean", "noise floor", "noise and echo"],
)
def test_stereo_truth_matches_what_was_built(noise: float | None, bleed: float | None) -> None:
    call, placed = build_call(PARTS, noise_dbfs=noise, bleed_db=bleed)
    holds, shifts, overlaps = _derived(call)
    want_holds, want_shifts = _expected(placed, len(call) / RATE)
    assert len(holds) == len(want_holds) and len(shifts) == len(want_shifts), (holds, shifts)
    for got, want in zip(holds, want_holds, strict=True):
        assert _close(got.start, want.start) and _close(got.end, want.end), (got, want)
        assert got.backchannel == want.backchannel
    for got_s, want_s in zip(shifts, want_shifts, strict=True):
        assert _close(got_s.end, want_s.end), (got_s, want_s)
        assert _close(got_s.response, want_s.response), (got_s, want_s)
        assert _close(got_s.next_start, want_s.next_start), (got_s, want_s)
    assert shifts[1].agent_gap is not None and shifts[1].agent_gap < 0  # the overlap
    assert overlaps == 0


def test_short_final_silence_is_not_scored() -> None:
    call, _ = build_call(PARTS[:4], tail=1.0)
    holds, shifts, _ = _derived(call)
    assert len(holds) == 2 and shifts == []


# ---------------------------------------------------------------- the rules, literal inputs


def test_frame_levels_and_runs() -> None:
    rule = ActivityRule()
    tone = 0.5 * np.sin(np.arange(RATE) * 2 * np.pi * 200 / RATE)
    audio = np.concatenate([np.zeros(RATE // 2), tone, np.zeros(RATE // 2)]).astype(np.float32)
    levels = frame_levels(audio, RATE, rule)
    assert len(levels) == 1 + (len(audio) - 320) // 160
    assert levels.max() == pytest.approx(20 * np.log10(0.5 / np.sqrt(2)), abs=0.1)
    assert speech_segments(audio, RATE) == [(pytest.approx(0.49, abs=0.011),
                                             pytest.approx(1.5, abs=0.011))]
    assert runs(np.array([0, 1, 1, 0, 1]), 0.01, 0.02) == [(0.01, 0.04), (0.04, 0.06)]


def test_clicks_dropped_and_dips_bridged() -> None:
    tone = 0.3 * np.sin(np.arange(RATE) * 2 * np.pi * 300 / RATE).astype(np.float32)
    audio = np.zeros(3 * RATE, dtype=np.float32)
    audio[RATE // 10: RATE // 10 + 480] = tone[:480]  # a 30 ms click
    audio[RATE: RATE + 8000] = tone[:8000]
    audio[RATE + 8480: RATE + 16000] = tone[:7520]  # a 30 ms dip inside speech
    segs = speech_segments(audio, RATE)
    assert len(segs) == 1 and segs[0][0] == pytest.approx(0.99, abs=0.011)


def test_close_gaps() -> None:
    assert close_gaps([(0.0, 1.0), (1.1, 2.0), (2.5, 3.0)], 0.2) == [(0.0, 2.0), (2.5, 3.0)]


def test_gap_rule_literal() -> None:
    speaker = [(0.0, 2.0), (2.15, 3.0), (3.5, 5.0), (6.0, 7.0), (8.5, 9.0)]
    other = [(5.3, 5.6), (7.5, 8.2), (4.0, 4.5)]
    truth = derive("x", speaker, other, 9.5, GapRule())
    # 2.0-2.15 is under min_pause: one stretch of speech. 5.3-5.6 is short and the speaker
    # comes back 0.4 s after it: a backchannel; 7.5-8.2 too (back 0.3 s after it).
    assert truth.holds == [Hold(3.0, 3.5), Hold(5.0, 6.0, backchannel=True),
                           Hold(7.0, 8.5, backchannel=True)]
    assert truth.overlaps == 1  # 4.0-4.5, inside the speaker's speech
    assert truth.shifts == []  # the last silence is 0.5 s: not scored


def test_gap_rule_shift_and_final() -> None:
    truth = derive("x", [(0.0, 1.0), (4.0, 5.0)], [(1.6, 3.5)], 8.0)
    assert truth.shifts == [Shift(1.0, 1.6, 4.0), Shift(5.0, None, 8.0)]
    assert truth.shifts[0].agent_gap == pytest.approx(0.6)
    mixed = derive("x", [(0.0, 1.0), (4.0, 5.0)], [(1.6, 3.5)], 8.0, mixed=True)
    assert mixed.shifts[0] == Shift(1.0, 1.6, 1.6)  # in a mix the server hears the answer
