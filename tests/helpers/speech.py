"""Committed test speech: flite clips made once by ``tests/data/make_speech.py``.

Tests load these instead of running flite, sox or ffmpeg, so the suite needs only Python.
Compressed variants (Ogg Opus/Vorbis) are made here from the WAVs with soundfile.
"""

from __future__ import annotations

import io
import json
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

SPEECH_DIR = Path(__file__).resolve().parent.parent / "data" / "speech"
RATE = 16000


@cache
def catalogue() -> dict[str, Any]:
    """``clips.json``: every clip's file, voice and text, and the dialogue's layout."""
    data: dict[str, Any] = json.loads((SPEECH_DIR / "clips.json").read_text())
    return data


def clip_path(name: str) -> Path:
    """Path of a clip's WAV (``"dialogue"`` or a key of ``clips.json``'s ``clips``)."""
    info = dialogue_info() if name == "dialogue" else catalogue()["clips"][name]
    return SPEECH_DIR / str(info["file"])


def load_clip(name: str) -> tuple[np.ndarray, dict[str, Any]]:
    """A clip as 16 kHz mono float32 plus its ``clips.json`` entry."""
    info = dialogue_info() if name == "dialogue" else catalogue()["clips"][name]
    audio, rate = sf.read(SPEECH_DIR / str(info["file"]), dtype="float32")
    assert rate == RATE and audio.ndim == 1 and audio.size == info["samples"]
    return np.asarray(audio, dtype=np.float32), dict(info)


def dialogue_info() -> dict[str, Any]:
    info: dict[str, Any] = catalogue()["dialogue"]
    return info


def speak(text: str, voice: str = "slt") -> np.ndarray:
    """The committed clip with this exact text and voice (what ``flite -voice`` produced)."""
    for name, info in catalogue()["clips"].items():
        if info["text"] == text and info["voice"] == voice:
            return load_clip(name)[0]
    raise KeyError(f"no committed clip for {voice}: {text!r}; add it to tests/data/make_speech.py")


def encode_ogg(
    audio: np.ndarray,
    rate: int = RATE,
    *,
    subtype: str = "OPUS",
    channels: int = 1,
    compression_level: float | None = None,
) -> bytes:
    """Ogg Opus or Vorbis bytes via libsndfile; ``channels=2`` duplicates the mono signal."""
    data = np.stack([audio] * channels, axis=1) if channels > 1 else audio
    buffer = io.BytesIO()
    sf.write(buffer, data, rate, format="OGG", subtype=subtype,
             compression_level=compression_level)
    return buffer.getvalue()


NATURAL_DIR = SPEECH_DIR.parent / "natural"


def natural_clip(name: str) -> tuple[np.ndarray, dict[str, Any]]:
    """A committed natural-prosody clip (``data/natural``) and its entry in ``natural.json``
    (pause and turn times)."""
    info: dict[str, Any] = json.loads((NATURAL_DIR / "natural.json").read_text())[name]
    audio, rate = sf.read(NATURAL_DIR / f"{name}.wav", dtype="float32")
    assert rate == RATE
    return audio, info
