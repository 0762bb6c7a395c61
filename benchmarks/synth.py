"""Speech synthesis with exactly placed silences, and labels measured from the result.

flite and espeak-ng are called per *segment* (the words between two pauses); each segment is
trimmed with an energy threshold, so the speech boundaries we label are measured from the
synthesized audio, not the nominal durations asked for. Silences are written with numpy,
so they are exactly as long as requested. Used by ``samples/make_samples.py`` and
``benchmarks/corpus.py``; needs the ``flite`` / ``espeak-ng`` binaries to make audio, so only
developers regenerating samples or corpora need them (tests use committed audio).
"""

from __future__ import annotations

import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
import soxr

SAMPLE_RATE = 16000
FRAME = 160  # 10 ms energy frames
SPEECH_DBFS = -40.0  # a frame is speech when its RMS is above this
MIN_PAUSE = 0.2  # a quiet run inside a turn this long is labelled a pause
TARGET_PEAK = 0.7


@dataclass(frozen=True)
class Voice:
    """One synthetic speaker: an engine, a voice name and a speaking rate."""

    engine: str  # "flite" or "espeak"
    name: str  # flite voice (slt, rms, awb, kal16) or espeak-ng voice (en-us+f3)
    rate: float = 1.0  # >1 is faster speech

    @property
    def label(self) -> str:
        return f"{self.engine}:{self.name}@{self.rate:.2f}"


def synthesize(text: str, voice: Voice) -> np.ndarray:
    """Speak ``text`` with ``voice``; float32 mono at 16 kHz, leading/trailing silence trimmed."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "seg.wav"
        if voice.engine == "flite":
            stretch = f"duration_stretch={1 / voice.rate:.3f}"
            cmd = ["flite", "-voice", voice.name, "--setf", stretch, "-t", text, "-o", str(out)]
        elif voice.engine == "espeak":
            cmd = ["espeak-ng", "-v", voice.name, "-s", str(round(165 * voice.rate)),
                   "-w", str(out), text]
        else:
            raise ValueError(f"unknown engine {voice.engine!r}")
        subprocess.run(cmd, check=True, capture_output=True)
        audio, rate = sf.read(out, dtype="float32", always_2d=True)
    mono = audio.mean(axis=1)
    if rate != SAMPLE_RATE:
        mono = soxr.resample(mono, rate, SAMPLE_RATE).astype(np.float32)
    start, end = speech_bounds(mono)
    seg = mono[start:end]
    peak = float(np.max(np.abs(seg))) if seg.size else 0.0
    return (seg * (TARGET_PEAK / peak) if peak > 0 else seg).astype(np.float32)


def frame_dbfs(audio: np.ndarray) -> np.ndarray:
    """RMS level of each 10 ms frame in dBFS (the last partial frame is dropped)."""
    n = len(audio) // FRAME
    frames = audio[: n * FRAME].astype(np.float64).reshape(n, FRAME)
    rms = np.sqrt(np.mean(frames**2, axis=1))
    return np.asarray(20 * np.log10(np.maximum(rms, 1e-10)))


def speech_bounds(audio: np.ndarray, threshold_dbfs: float = SPEECH_DBFS) -> tuple[int, int]:
    """First and last sample (exclusive) of frames louder than the threshold; (0, 0) if none."""
    loud = np.flatnonzero(frame_dbfs(audio) > threshold_dbfs)
    if loud.size == 0:
        return 0, 0
    return int(loud[0] * FRAME), int((loud[-1] + 1) * FRAME)


@dataclass
class TurnSpec:
    """A turn to synthesize: segments of text, and the pause (seconds) after each but the last."""

    segments: list[str]
    pauses: list[float]
    gap_before: float  # silence before the turn starts (the agent talking, on the other channel)
    voice: Voice

    @property
    def text(self) -> str:
        return " ".join(s.strip() for s in self.segments)


@dataclass
class TurnLabel:
    """Measured positions (seconds) of one turn in the call audio."""

    text: str
    start: float
    end: float
    pauses: list[tuple[float, float]] = field(default_factory=list)
    voice: str = ""
    kind: str = ""  # "question", "statement" or "short"
    # per pause: "inserted" (a silence we placed) or "natural" (the synthesiser's own, at a
    # comma or between sentences, found by energy)
    pause_kinds: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "start": round(self.start, 3), "end": round(self.end, 3),
                "pauses": [[round(a, 3), round(b, 3)] for a, b in self.pauses],
                "pause_kinds": self.pause_kinds, "voice": self.voice, "kind": self.kind}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TurnLabel:
        return cls(text=str(data["text"]), start=float(data["start"]), end=float(data["end"]),
                   pauses=[(float(a), float(b)) for a, b in data.get("pauses", [])],
                   voice=str(data.get("voice", "")), kind=str(data.get("kind", "")),
                   pause_kinds=[str(k) for k in data.get("pause_kinds", [])])


def quiet_runs(audio: np.ndarray, start: int, end: int, min_seconds: float = MIN_PAUSE,
               threshold_dbfs: float = SPEECH_DBFS) -> list[tuple[int, int]]:
    """Sample ranges inside [start, end) where every 10 ms frame is below the threshold."""
    first = start // FRAME
    quiet = frame_dbfs(audio[first * FRAME: end]) <= threshold_dbfs
    runs: list[tuple[int, int]] = []
    run_start: int | None = None
    for i, q in enumerate([*quiet.tolist(), False]):
        if q and run_start is None:
            run_start = i
        elif not q and run_start is not None:
            if (i - run_start) * FRAME >= min_seconds * SAMPLE_RATE:
                runs.append(((first + run_start) * FRAME, (first + i) * FRAME))
            run_start = None
    return runs


def render_call(turns: list[TurnSpec], tail: float, noise_dbfs: float | None,
                seed: int) -> tuple[np.ndarray, list[TurnLabel]]:
    """Concatenate the turns with exact silences; return the audio and measured labels.

    A faint noise floor (``noise_dbfs``) makes the silences realistic for a VAD while staying
    far below the speech threshold, so the labels stay exact.
    """
    pieces: list[np.ndarray] = []
    labels: list[TurnLabel] = []
    pos = 0

    def silence(seconds: float) -> None:
        nonlocal pos
        n = round(seconds * SAMPLE_RATE)
        pieces.append(np.zeros(n, dtype=np.float32))
        pos += n

    for turn in turns:
        silence(turn.gap_before)
        start = pos
        pauses: list[tuple[float, float]] = []
        for i, text in enumerate(turn.segments):
            seg = synthesize(text, turn.voice)
            pieces.append(seg)
            pos += len(seg)
            if i < len(turn.pauses):
                p0 = pos
                silence(turn.pauses[i])
                pauses.append((p0 / SAMPLE_RATE, pos / SAMPLE_RATE))
        labels.append(TurnLabel(turn.text, start / SAMPLE_RATE, pos / SAMPLE_RATE, pauses,
                                turn.voice.label))
    silence(tail)
    audio = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.float32)
    for label in labels:
        inserted = set(label.pauses)
        runs = quiet_runs(audio, round(label.start * SAMPLE_RATE), round(label.end * SAMPLE_RATE))
        measured = [(a / SAMPLE_RATE, b / SAMPLE_RATE) for a, b in runs]
        for p in inserted:  # an inserted pause is always found; keep its exact bounds
            measured = [m for m in measured if not (m[0] <= p[1] and p[0] <= m[1])] + [p]
        label.pauses = sorted(measured)
        label.pause_kinds = ["inserted" if p in inserted else "natural" for p in label.pauses]
    if noise_dbfs is not None:
        rng = np.random.default_rng(seed)
        amp = 10 ** (noise_dbfs / 20)
        audio = (audio + rng.normal(0.0, amp, size=audio.shape)).astype(np.float32)
    return np.clip(audio, -1.0, 1.0).astype(np.float32), labels


def write_wav(path: Path, audio: np.ndarray) -> None:
    """16 kHz mono PCM_16, the format the CLI and the server read directly."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, audio, SAMPLE_RATE, subtype="PCM_16")
