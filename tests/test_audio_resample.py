"""Streaming resampler: total length, content, and independence from block boundaries."""

from __future__ import annotations

import numpy as np
import pytest
from helpers.audio_testutil import tone
from numpy.typing import NDArray

from flux_cli.audio.resample import StreamResampler


def run(resampler: StreamResampler, x: NDArray[np.float32], seed: int) -> NDArray[np.float32]:
    """Feeds ``x`` in random-sized blocks (1 sample to 5000), then flushes."""
    rng = np.random.default_rng(seed)
    out, pos = [], 0
    while pos < len(x):
        step = int(rng.integers(1, 5000))
        out.append(resampler.process(x[pos : pos + step]))
        pos += step
    out.append(resampler.flush())
    return np.concatenate(out)


@pytest.mark.parametrize(
    ("in_rate", "out_rate"),
    [(44100, 16000), (48000, 16000), (8000, 16000), (22050, 16000), (16000, 8000),
     (16000, 24000), (11025, 48000), (44100, 8000)],
)  # fmt: skip
def test_total_length_and_content(in_rate: int, out_rate: int) -> None:
    x = tone(1.3, in_rate, 1000, 0.5)
    y = run(StreamResampler(in_rate, out_rate), x, seed=in_rate + out_rate)
    assert y.dtype == np.float32
    assert abs(len(y) - round(len(x) * out_rate / in_rate)) <= 2
    reference = tone(len(y) / out_rate, out_rate, 1000, 0.5)[: len(y)]
    # Away from the edges the resampled tone is the tone (same phase: no added delay).
    middle = slice(len(y) // 10, -len(y) // 10)
    assert np.max(np.abs(y[middle] - reference[middle])) < 2e-3


def test_block_boundaries_do_not_change_the_output() -> None:
    x = np.random.default_rng(5).uniform(-0.5, 0.5, 30000).astype(np.float32)
    a = run(StreamResampler(44100, 16000), x, seed=1)
    b = run(StreamResampler(44100, 16000), x, seed=2)
    assert len(a) == len(b)
    np.testing.assert_allclose(a, b, atol=1e-6)


def test_passthrough_when_rates_match() -> None:
    r = StreamResampler(16000, 16000)
    x = tone(0.1, 16000)
    assert r.passthrough
    np.testing.assert_array_equal(r.process(x), x)
    assert r.flush().shape == (0,)


def test_bad_rates() -> None:
    with pytest.raises(ValueError, match="positive"):
        StreamResampler(0, 16000)
