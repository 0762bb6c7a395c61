"""Framer: exact frames, no padding, nothing lost."""

from __future__ import annotations

import numpy as np
import pytest

from flux_cli.audio.framing import Framer, frame_samples


@pytest.mark.parametrize(
    ("rate", "ms", "expected"),
    [(16000, 80, 1280), (8000, 20, 160), (44100, 80, 3528), (48000, 80, 3840), (24000, 10, 240)],
)
def test_frame_samples(rate: int, ms: int, expected: int) -> None:
    assert frame_samples(rate, ms) == expected


def test_frame_samples_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="positive"):
        frame_samples(16000, 0)


@pytest.mark.parametrize("seed", range(5))
def test_frames_are_exact_and_lose_nothing(seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, int(rng.integers(1, 20000))).astype(np.float32)
    framer = Framer(1280)
    frames, pos = [], 0
    while pos < len(x):
        step = int(rng.integers(0, 4000))
        frames += framer.push(x[pos : pos + step])
        pos += step
    assert all(len(f) == 1280 for f in frames)
    last = framer.flush()
    assert framer.flush() is None
    if len(x) % 1280:
        assert last is not None and len(last) == len(x) % 1280
        frames.append(last)
    else:
        assert last is None
    np.testing.assert_array_equal(np.concatenate(frames), x)


def test_one_block_holding_many_frames() -> None:
    framer = Framer(3)
    assert framer.push(np.zeros(0, dtype=np.float32)) == []
    out = framer.push(np.arange(10, dtype=np.float32))
    assert [f.tolist() for f in out] == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
    rest = framer.flush()
    assert rest is not None and rest.tolist() == [9]
