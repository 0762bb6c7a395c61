"""Shared by several test modules (from test_cli.py; tests never import each other)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile as sf
from conftest import timeout

FLUX = [sys.executable, "-m", "flux_cli"]


def env(**extra: str) -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if k not in ("DEEPGRAM_API_KEY", "FLUX_URL")}
    out.pop("NO_COLOR", None)
    out.update(extra)
    return out


def flux(*args: str, stdin: bytes | None = None, **kw: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*FLUX, *args],
        input=None if stdin is None else stdin.decode("latin-1"),
        capture_output=True,
        text=True,
        encoding="latin-1",
        env=env(**kw),
        timeout=timeout(60),
    )


def speechless(path: Path, seconds: float, rate: int = 16000) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    data = (0.2 * np.sin(2 * np.pi * 330 * t)).astype(np.float32)
    sf.write(path, data, rate, subtype="PCM_16")
    return data


