"""Speech synthesis with exactly placed silences, and labels measured from the result.

Each *turn* is spoken as ONE utterance, so the words before an inside-turn pause keep the
non-final intonation of the running sentence (a per-segment synthesis would end every
segment like a sentence, which makes an inside pause look exactly like a turn end, in the
audio and in the transcript). The pause is then placed at the word boundary:

* espeak-ng honours SSML ``<break>``: we ask for a marker break far longer than any natural
  pause, find it by energy (espeak writes digital silence there) and replace it by the exact
  requested silence;
* flite ignores SSML, so we read its segment end times (``-psdur``), find the last phone of
  each segment by counting the phones of the segment text alone, and cut at the quietest
  10 ms frame near that boundary.

If a turn cannot be aligned (phone counts disagree, breaks not found) it falls back to the old
per-segment synthesis; ``FALLBACKS`` counts how often. Speech boundaries are trimmed with an
energy threshold, so the labels are measured from the synthesized audio, and silences are
written with numpy, so they are exactly as long as requested. Used by ``samples/make_samples.py``
and ``benchmarks/corpus.py``; needs the ``flite`` / ``espeak-ng`` binaries to make audio, so only
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
ESPEAK_MARKER_MS = 3000  # SSML break used to find a pause; no natural pause is this long
FADE = 80  # 5 ms fade at a cut, so cutting inside a word cannot click
# Turns that could not be aligned and were synthesized per segment, by engine.
FALLBACKS: dict[str, int] = {}


@dataclass(frozen=True)
class Voice:
    """One synthetic speaker: an engine, a voice name and a speaking rate."""

    engine: str  # "flite" or "espeak"
    name: str  # flite voice (slt, rms, awb, kal16) or espeak-ng voice (en-us+f3)
    rate: float = 1.0  # >1 is faster speech

    @property
    def label(self) -> str:
        return f"{self.engine}:{self.name}@{self.rate:.2f}"


def _command(text: str, voice: Voice, out: Path, ssml: bool = False) -> list[str]:
    if voice.engine == "flite":
        stretch = f"duration_stretch={1 / voice.rate:.3f}"
        return ["flite", "-voice", voice.name, "--setf", stretch, "-psdur", "-t", text,
                "-o", str(out)]
    if voice.engine == "espeak":
        return ["espeak-ng", *(["-m"] if ssml else []), "-v", voice.name,
                "-s", str(round(165 * voice.rate)), "-w", str(out), text]
    raise ValueError(f"unknown engine {voice.engine!r}")


def _speak(text: str, voice: Voice, ssml: bool = False) -> tuple[np.ndarray, str]:
    """Raw (untrimmed) float32 16 kHz audio of ``text``, and the synthesiser's stdout."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "seg.wav"
        done = subprocess.run(_command(text, voice, out, ssml), check=True,
                              capture_output=True, text=True)
        audio, rate = sf.read(out, dtype="float32", always_2d=True)
    mono = audio.mean(axis=1)
    if rate != SAMPLE_RATE:
        mono = soxr.resample(mono, rate, SAMPLE_RATE).astype(np.float32)
    return mono.astype(np.float32), done.stdout


def _trim(audio: np.ndarray) -> np.ndarray:
    start, end = speech_bounds(audio)
    return audio[start:end]


def _normalise(audio: np.ndarray) -> np.ndarray:
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    return (audio * (TARGET_PEAK / peak) if peak > 0 else audio).astype(np.float32)


def _phones(psdur: str) -> list[tuple[str, float]]:
    """flite ``-psdur`` output as (phone, end time in seconds)."""
    out = []
    for item in psdur.split():
        phone, _, end = item.rpartition(":")
        if phone:
            out.append((phone, float(end)))
    return out


def _flite_cuts(turn: TurnSpec, audio: np.ndarray, psdur: str) -> list[tuple[int, int]] | None:
    """Per inside pause, the (left end, right start) samples to cut the whole-turn audio at;
    None when the segments' phones do not line up with the whole turn's."""
    phones = _phones(psdur)
    if not phones:
        return None
    scale = len(audio) / SAMPLE_RATE / phones[-1][1]  # diphone voices drift (kal16)
    phones = [(ph, end * scale) for ph, end in phones]
    spoken = [i for i, (ph, _end) in enumerate(phones) if ph != "pau"]
    counts = []
    for seg in turn.segments:
        _audio, out = _speak(seg, turn.voice)
        counts.append(sum(1 for ph, _e in _phones(out) if ph != "pau"))
    if sum(counts) != len(spoken) or min(counts) == 0:
        return None
    cuts: list[tuple[int, int]] = []
    done = 0
    for count in counts[:-1]:
        done += count
        last = spoken[done - 1]  # the last phone of the segment
        following = spoken[done]  # the first phone of the next one
        left = phones[last][1]
        right = phones[following - 1][1]  # start of the next spoken phone (after any pau)
        lo = max(0, round((left - 0.05) * SAMPLE_RATE) // FRAME)
        hi = min(len(audio) // FRAME, round((right + 0.05) * SAMPLE_RATE) // FRAME + 1)
        if hi <= lo:
            return None
        level = frame_dbfs(audio[lo * FRAME: hi * FRAME])
        cut = (lo + int(np.argmin(level))) * FRAME + FRAME // 2
        if cuts and cut <= cuts[-1][1]:
            return None
        cuts.append((cut, cut))
    return cuts


def _espeak_cuts(turn: TurnSpec) -> tuple[np.ndarray, list[tuple[int, int]]] | None:
    """The turn as SSML with a marker break at each pause, and the marker silences found."""
    brk = f' <break time="{ESPEAK_MARKER_MS}ms"/> '
    body = brk.join(_xml_escape(s) for s in turn.segments)
    audio, _out = _speak(f"<speak>{body}</speak>", turn.voice, ssml=True)
    runs = quiet_runs(audio, 0, len(audio), min_seconds=0.8 * ESPEAK_MARKER_MS / 1000)
    if len(runs) != len(turn.pauses):
        return None
    return audio, runs


def _xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _fade(piece: np.ndarray, start: bool, end: bool) -> np.ndarray:
    piece = piece.copy()
    n = min(FADE, len(piece) // 2)
    if n and start:
        piece[:n] *= np.linspace(0.0, 1.0, n, dtype=np.float32)
    if n and end:
        piece[-n:] *= np.linspace(1.0, 0.0, n, dtype=np.float32)
    return piece


def synthesize_turn(turn: TurnSpec) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """The turn spoken as one utterance with the pauses inserted at the word boundaries.

    Returns the trimmed audio and, per inserted pause, its (start, end) sample in it.
    """
    pieces: list[np.ndarray] | None = None
    if turn.pauses:
        if turn.voice.engine == "espeak":
            found = _espeak_cuts(turn)
            if found is not None:
                audio, runs = found
                bounds = [0, *[x for run in runs for x in run], len(audio)]
                pieces = [audio[bounds[2 * i]: bounds[2 * i + 1]] for i in range(len(runs) + 1)]
        else:
            audio, out = _speak(turn.text, turn.voice)
            cuts = _flite_cuts(turn, audio, out)
            if cuts is not None:
                bounds = [0, *[x for cut in cuts for x in cut], len(audio)]
                pieces = [audio[bounds[2 * i]: bounds[2 * i + 1]] for i in range(len(cuts) + 1)]
        if pieces is not None:
            n = len(pieces)
            trimmed = [_trim(p) for p in pieces]
            # trim only the cut sides' silence: keep each piece's outer edges as trimmed too
            pieces = [_fade(p, i > 0, i < n - 1) for i, p in enumerate(trimmed)]
            if any(p.size == 0 for p in pieces):
                pieces = None
        if pieces is None:
            FALLBACKS[turn.voice.engine] = FALLBACKS.get(turn.voice.engine, 0) + 1
            pieces = [_trim(_speak(s, turn.voice)[0]) for s in turn.segments]
    else:
        pieces = [_trim(_speak(turn.text, turn.voice)[0])]
    peak = max(float(np.max(np.abs(p))) for p in pieces)
    gain = TARGET_PEAK / peak if peak > 0 else 1.0
    out_pieces: list[np.ndarray] = []
    pauses: list[tuple[int, int]] = []
    pos = 0
    for i, piece in enumerate(pieces):
        out_pieces.append((piece * gain).astype(np.float32))
        pos += len(piece)
        if i < len(turn.pauses):
            n = round(turn.pauses[i] * SAMPLE_RATE)
            out_pieces.append(np.zeros(n, dtype=np.float32))
            pauses.append((pos, pos + n))
            pos += n
    return np.concatenate(out_pieces), pauses


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
        speech, placed = synthesize_turn(turn)
        pieces.append(speech)
        pos += len(speech)
        pauses = [((start + a) / SAMPLE_RATE, (start + b) / SAMPLE_RATE) for a, b in placed]
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
