"""Shared by several test modules (from test_client.py; tests never import each other)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from flux_cli.transcribe.settings import TranscribeSettings
from helpers.scripted_server import Step, turn


def settings(source: Path | str, url: str, **kw: Any) -> TranscribeSettings:
    """Settings for a test run: as fast as possible, plain text, unless told otherwise."""
    kw = {"speed": 0.0, "output": "text", **kw}
    return TranscribeSettings(source=str(source), url=url, **kw)


TURNS = [
    Step(4, turn("StartOfTurn", 0, 0.0, 0.32, "Hello")),
    Step(
        10, turn("EndOfTurn", 0, 0.0, 0.8, "Hello, how are you?", confidence=0.9, trigger="model")
    ),
    Step(15, turn("StartOfTurn", 1, 1.0, 1.2, "Fine")),
    Step("CloseStream", turn("Update", 1, 1.0, 2.0, "Fine thanks")),
]


def tone(path: Path, seconds: float, rate: int = 16000, channels: int = 1) -> np.ndarray:
    """A test signal with a different tone per channel; returns the mono mix (float32)."""
    t = np.arange(round(seconds * rate)) / rate
    data = np.stack([0.2 * np.sin(2 * np.pi * (300 + 200 * c) * t) for c in range(channels)], 1)
    sf.write(path, data.astype(np.float32), rate, subtype="PCM_16")
    written, _ = sf.read(path, dtype="float32", always_2d=True)
    return np.asarray(written.mean(axis=1), dtype=np.float32)
