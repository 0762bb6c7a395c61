"""The band check: a phone line upsampled by someone else is found, loud or quiet, full-band
speech and noise are not, digital silence gets no verdict."""

from __future__ import annotations

import numpy as np
import soxr
from helpers.speech import PHONE_RATE, as_linear16, load_clip, phone_line, upsampled_phone_line

from flux_cli.audio.band_check import BandCheck
from flux_cli.audio.encoding import decode, encode

RATE = 16000


def clip(name: str) -> np.ndarray:
    return load_clip(name)[0]


def verdict_of(x: np.ndarray, rate: int = RATE) -> tuple[bool | None, float | None]:
    check = BandCheck(rate)
    for start in range(0, len(x), 320):
        check.feed(x[start:start + 320])
    return check.verdict, check.ratio_db


def test_speech_through_a_phone_line_is_band_limited_at_16_and_48_khz() -> None:
    speech = np.concatenate([clip("check_my_order"), clip("order_calling")])
    assert verdict_of(as_linear16(speech))[0] is False
    narrow, ratio = verdict_of(upsampled_phone_line(speech))
    assert narrow is True and ratio is not None and ratio < -35
    assert verdict_of(upsampled_phone_line(speech, 48000), 48000)[0] is True


def test_full_band_noise_is_full_band_and_digital_silence_gets_no_verdict() -> None:
    rng = np.random.default_rng(0)
    assert verdict_of(as_linear16(rng.normal(0, 0.01, RATE * 2).astype(np.float32)))[0] is False
    # a steady tone above the phone band rises no more than a dither: it is what is up there
    t = np.arange(2 * RATE) / RATE
    tone = as_linear16((0.1 * np.sin(2 * np.pi * 6000.0 * t)).astype(np.float32))
    assert verdict_of(tone)[0] is False
    assert verdict_of(np.zeros(RATE * 5, np.float32)) == (None, None)


def dithered_upsampled_phone_line(speech: np.ndarray, quieter_db: float) -> np.ndarray:
    """``speech`` through a µ-law phone line ``quieter_db`` quieter than ``phone_line`` leaves
    it, upsampled to 16 kHz and dithered to 16 bits as sox does by default (triangular, one
    step wide): a floor above 4 kHz that stays where it is while the speech falls."""
    line = phone_line(speech, RATE, np.random.default_rng(1)) * 10.0 ** (-quieter_db / 20.0)
    up = soxr.resample(decode(encode(line, "mulaw"), "mulaw"), PHONE_RATE, RATE)
    rng = np.random.default_rng(2)
    steps = rng.uniform(-0.5, 0.5, up.size) + rng.uniform(-0.5, 0.5, up.size)
    return as_linear16((up + steps / 32768.0).astype(np.float32))


def test_a_quiet_phone_line_is_found_under_its_upsamplers_dither() -> None:
    """30 dB quieter (speech about -66 dBFS) the dither stood at -31 dB against the phone band,
    above the threshold, and the plain ratio missed the line; the band's floor taken off, it
    is far below it, as the same line at its own level is."""
    speech = np.concatenate([clip("check_my_order"), clip("order_calling")])
    for quieter_db in (0.0, 30.0):
        narrow, ratio = verdict_of(dithered_upsampled_phone_line(speech, quieter_db))
        assert narrow is True and ratio is not None and ratio < -38, (quieter_db, ratio)


def test_quiet_full_band_speech_and_a_stream_opening_on_room_noise_are_full_band() -> None:
    speech = np.concatenate([clip("check_my_order"), clip("order_calling")])
    assert verdict_of(as_linear16(speech * 10.0 ** (-30.0 / 20.0)))[0] is False
    # a second of brown noise (falling 6 dB an octave) at about -50 dBFS, then the speech
    walk = np.cumsum(np.random.default_rng(3).normal(0.0, 1.0, RATE))
    brown = (walk - np.mean(walk)) / np.std(walk) * 0.003
    assert verdict_of(as_linear16(np.concatenate([brown, speech]).astype(np.float32)))[0] is False
