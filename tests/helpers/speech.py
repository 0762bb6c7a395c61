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
import soxr

SPEECH_DIR = Path(__file__).resolve().parent.parent / "data" / "speech"
RATE = 16000
PHONE_RATE = 8000


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


def phone_line(audio: np.ndarray, rate: int, rng: np.random.Generator) -> np.ndarray:
    """What a phone line leaves of ``audio`` (with its hiss): 8 kHz, 300-3400 Hz, -36 dBFS."""
    loud = audio[np.abs(audio) > 1e-3]
    rms = float(np.sqrt(np.mean(loud**2)))
    hissy = audio + rng.normal(0.0, 0.02 * rms, audio.size).astype(np.float32)
    narrow = soxr.resample(hissy, rate, PHONE_RATE)
    spectrum = np.fft.rfft(narrow)
    freqs = np.fft.rfftfreq(narrow.size, 1 / PHONE_RATE)
    spectrum[(freqs < 300) | (freqs > 3400)] = 0
    band = np.fft.irfft(spectrum, n=narrow.size)
    level = np.sqrt(np.mean(band[np.abs(band) > 1e-3 * np.max(np.abs(band))] ** 2))
    return np.asarray(band / level * 10 ** (-36 / 20), dtype=np.float32)


def as_linear16(audio: np.ndarray) -> np.ndarray:
    """What arrives when ``audio`` is sent as 16-bit PCM."""
    from flux_cli.audio.encoding import decode, encode

    return decode(encode(audio, "linear16"), "linear16")


def upsampled_phone_line(audio: np.ndarray, rate: int = RATE) -> np.ndarray:
    """16 kHz ``audio`` through a µ-law phone line (``phone_line``) and upsampled to ``rate``
    as another client would send it (16-bit PCM): the codec's offset and all."""
    from flux_cli.audio.encoding import decode, encode

    coded = decode(encode(phone_line(audio, RATE, np.random.default_rng(1)), "mulaw"), "mulaw")
    return as_linear16(soxr.resample(coded, PHONE_RATE, rate).astype(np.float32))
