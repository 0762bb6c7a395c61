"""A stream above 8 kHz that is a phone line upsampled by someone else is taken back to 8 kHz
and handled as one: from its first sample when the band check's verdict comes within the hold
(which counts from the first sound), from the verdict on after it; any other stream is
resampled as before, bit for bit; the timeline has no gap or repeat; nothing goes out in the
hold; how the stream is cut changes nothing."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from helpers.speech import as_linear16, load_clip, upsampled_phone_line

from flux_cli.audio.phone_line import (
    HOLD_MAX_S,
    HOLD_S,
    Downsampled,
    MaybePhoneLine,
    PhoneLine,
    to_engine_rate,
)
from flux_cli.audio.resample import StreamResampler

RATE = 16000
Audio = np.ndarray


def speech() -> Audio:
    return np.concatenate([load_clip("check_my_order")[0], load_clip("order_calling")[0]])


def run(make: Callable[[], MaybePhoneLine | Downsampled | StreamResampler], x: Audio,
        sizes: list[int]) -> Audio:
    stage = make()
    out, pos, i = [], 0, 0
    while pos < len(x):
        out.append(stage.process(x[pos:pos + sizes[i % len(sizes)]]))
        pos += sizes[i % len(sizes)]
        i += 1
    out.append(stage.flush())
    return np.concatenate(out)


def band_db(x: Audio, low: float, high: float) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(x.size))) ** 2
    freqs = np.fft.rfftfreq(x.size, 1 / RATE)
    return 10 * float(np.log10(np.sum(spectrum[(freqs >= low) & (freqs < high)]) + 1e-30))


def test_full_band_speech_is_resampled_as_before_bit_for_bit() -> None:
    x = as_linear16(speech())
    np.testing.assert_array_equal(run(lambda: MaybePhoneLine(RATE, RATE), x, [320, 7]), x)
    fast = as_linear16(np.asarray(StreamResampler(RATE, 44100).process(x), np.float32))
    np.testing.assert_array_equal(run(lambda: MaybePhoneLine(44100, RATE), fast, [882]),
                                  run(lambda: StreamResampler(44100, RATE), fast, [882]))


def first_out_s(x: Audio, frame: int = 320) -> float:
    """How much of ``x`` had come in when the first output went out."""
    stage = MaybePhoneLine(RATE, RATE)
    for i in range(0, len(x), frame):
        if stage.process(x[i:i + frame]).size:
            return (i + frame) / RATE
    return len(x) / RATE


def test_an_upsampled_phone_line_is_a_phone_line_from_its_first_sample() -> None:
    x = upsampled_phone_line(speech())
    stage = MaybePhoneLine(RATE, RATE)
    out = np.concatenate([stage.process(x[i:i + 320]) for i in range(0, len(x), 320)]
                         + [stage.flush()])
    assert stage.phone and stage.check.verdict is True
    assert out.size == x.size  # no gap, no repeat
    # the verdict came in the hold: what the phone path makes of the whole stream
    np.testing.assert_allclose(out, run(lambda: Downsampled(RATE, RATE), x, [320]), atol=1e-6)
    assert 0.9 < first_out_s(x) < HOLD_S  # held until the verdict, after a second of sound
    settled = slice(RATE // 2, None)
    assert abs(float(np.mean(x[settled]))) > 2e-5  # the codec's offset, kept by the upsampler
    assert abs(float(np.mean(out[settled]))) < 2e-6
    # the 16-bit rounding noise the client left above the phone band is gone
    assert band_db(out[settled], 4500, 7500) < band_db(x[settled], 4500, 7500) - 20


def test_full_band_speech_is_held_until_its_verdict_silence_no_longer_than_the_hold() -> None:
    """The hold counts from the first sound: seconds of digital silence before it are held
    too, up to ``HOLD_MAX_S`` of the stream."""
    x = as_linear16(speech())
    assert 0.9 < first_out_s(x) < HOLD_S
    late = np.concatenate([np.zeros(3 * RATE, np.float32), x])
    assert 3.9 < first_out_s(late, 64) < 3 + HOLD_S  # the verdict, a second into the sound
    silence = np.zeros(round((HOLD_MAX_S + 2) * RATE), np.float32)
    assert first_out_s(silence, 64) == HOLD_MAX_S  # no verdict in digital silence: the hold ends


def test_release_ends_the_hold_and_the_stream_goes_on_as_after_it() -> None:
    """A control message releases what is held: the direct path's output so far; a phone
    line then switches at its verdict, as after the hold."""
    x = upsampled_phone_line(speech())
    stage = MaybePhoneLine(RATE, RATE)
    half = RATE // 2
    assert stage.process(x[:half]).size == 0
    released = stage.release()
    assert stage.release().size == 0 and abs(released.size - half) < 64
    out = np.concatenate([released] + [stage.process(x[i:i + 320])
                                       for i in range(half, len(x), 320)] + [stage.flush()])
    assert stage.phone and out.size == x.size
    switch = int(np.flatnonzero(out != x)[0])
    assert 0.9 * RATE < switch <= 2 * RATE
    np.testing.assert_array_equal(out[:switch], x[:switch])


def test_a_phone_line_after_seconds_of_digital_silence_is_one_from_its_first_sample() -> None:
    """A recording that opens with 3 s of digital silence: the hold counts from the first
    sound, so the verdict still comes in it and the phone path has the whole stream."""
    x = np.concatenate([np.zeros(3 * RATE, np.float32), upsampled_phone_line(speech())])
    out = run(lambda: MaybePhoneLine(RATE, RATE), x, [320])
    assert out.size == x.size
    np.testing.assert_allclose(out, run(lambda: Downsampled(RATE, RATE), x, [320]), atol=1e-6)


def test_a_phone_line_after_the_longest_hold_switches_as_cleanly() -> None:
    """Past ``hold_max_s`` of silence the output goes the direct way until the verdict and the
    phone path's from it; the phone path's held output is trimmed meanwhile."""
    x = np.concatenate([np.zeros(3 * RATE, np.float32), upsampled_phone_line(speech())])
    out = run(lambda: MaybePhoneLine(RATE, RATE, hold_max_s=2.0), x, [320])
    assert out.size == x.size
    switch = int(np.flatnonzero(out != x)[0])
    assert 3.5 * RATE < switch <= 5 * RATE
    np.testing.assert_allclose(out[switch:], run(lambda: Downsampled(RATE, RATE), x,
                                                       [320])[switch:], atol=1e-6)


def test_a_48_khz_phone_line_is_found_too_and_keeps_its_length() -> None:
    x = upsampled_phone_line(speech(), 48000)
    stage = MaybePhoneLine(48000, RATE)
    out = np.concatenate([stage.process(x[i:i + 960]) for i in range(0, len(x), 960)]
                         + [stage.flush()])
    assert stage.phone
    assert abs(out.size - x.size // 3) <= 1


# the verdict in the hold (after silence, too), and after it
@pytest.mark.parametrize(("silence_s", "hold_max_s"), [(0, HOLD_MAX_S), (3, HOLD_MAX_S),
                                                       (3, 2.0)])
@pytest.mark.parametrize("sizes", [[1], [7, 1001], [RATE // 2 + 3]])
def test_how_the_stream_is_cut_changes_nothing(sizes: list[int], silence_s: int,
                                               hold_max_s: float) -> None:
    x = np.concatenate([np.zeros(silence_s * RATE, np.float32),
                        upsampled_phone_line(speech())])
    whole = run(lambda: MaybePhoneLine(RATE, RATE, hold_max_s=hold_max_s), x, [320])
    np.testing.assert_allclose(run(lambda: MaybePhoneLine(RATE, RATE, hold_max_s=hold_max_s),
                                   x, sizes), whole, atol=1e-6)


@pytest.mark.parametrize(("rate", "kind"), [(8000, PhoneLine), (6000, PhoneLine),
                                            (16000, MaybePhoneLine), (44100, MaybePhoneLine),
                                            (10000, StreamResampler)])
def test_which_streams_may_be_phone_lines(rate: int, kind: type) -> None:
    assert isinstance(to_engine_rate(rate, RATE), kind)
