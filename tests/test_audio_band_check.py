"""The band check: a phone line upsampled by someone else is found, full-band speech and noise
are not, digital silence gets no verdict."""

from __future__ import annotations

import numpy as np
from helpers.speech import as_linear16, load_clip, upsampled_phone_line

from flux_cli.audio.band_check import BandCheck

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
    assert verdict_of(np.zeros(RATE * 5, np.float32)) == (None, None)
