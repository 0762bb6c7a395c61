"""Speech that sounds like people: a real voice, a natural neural voice, and their word times.

Two sources, both installed offline from packages (``shared/MODELS.md``):

- **real**: Debian's Asterisk core prompts (one professional voice, ~560 prompts, exact text;
  16 kHz from the G.722 files, decoded by ffmpeg). CC-BY-SA: :func:`ensure_packages` installs
  them with apt-get when missing; the audio is never committed.
- **neural**: ``hibari-tts`` (Kokoro distilled, the ``heart`` voice inside the wheel), speaking
  the benchmark's call-centre turns, each turn as one utterance so its prosody is real.

Every utterance is transcribed once by our own Whisper (word start/end times); a turn's inside
pause is made by cutting the utterance at a word boundary (the quietest 10 ms near it) and
inserting silence, so the words before the pause keep their mid-sentence prosody. Word times
are cached beside the audio. The labeller decodes as the engine did when the corpus was first
built, without the second decodes added since (``label_decode``): with them a fresh clone built
other labels than the cache every result was measured on (``docs/TURNS.md``, stop 42).
"""

from __future__ import annotations

import gzip
import json
import random
import re
import shutil
import subprocess
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, cast

import numpy as np

from benchmarks import corpus
from benchmarks.synth import SAMPLE_RATE, speech_bounds
from flux_cli.engine.models.asr import AsrOptions, WhisperTranscriber

ASTERISK_DIR = Path("/usr/share/asterisk/sounds/en")
ASTERISK_TEXT = Path("/usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz")
APT_PACKAGES = ("asterisk-core-sounds-en", "asterisk-core-sounds-en-g722", "ffmpeg")
TARGET_RMS_DBFS = -23.0  # speech level before per-turn gain changes
FADE_S = 0.005
NEURAL_VERSION = "hibari1"


@dataclass
class Utterance:
    """One spoken text, with its words' times (seconds in ``audio``) from our Whisper."""

    key: str
    speaker: str  # "real" or "neural"
    text: str
    audio: np.ndarray  # 16 kHz float32, trimmed to speech
    words: list[tuple[str, float, float]]

    @property
    def duration(self) -> float:
        return len(self.audio) / SAMPLE_RATE


def ensure_packages() -> None:
    """The Asterisk prompts and ffmpeg, installed with apt-get if this machine lacks them."""
    if ASTERISK_TEXT.exists() and any(ASTERISK_DIR.glob("*.g722")) and shutil.which("ffmpeg"):
        return
    subprocess.run(["apt-get", "update", "-qq"], check=True)
    subprocess.run(["apt-get", "install", "-y", "-qq", *APT_PACKAGES], check=True)


def asterisk_texts() -> list[tuple[str, str]]:
    """(prompt name, text) for every spoken prompt; bracketed non-speech lines are skipped."""
    out = []
    with gzip.open(ASTERISK_TEXT, "rt", encoding="utf-8", errors="replace") as f:
        for line in f:
            if line.startswith(";") or ":" not in line:
                continue
            name, text = (part.strip() for part in line.split(":", 1))
            if not text or "[" in text or not re.search(r"[A-Za-z]", text):
                continue
            if (ASTERISK_DIR / f"{name}.g722").is_file():
                out.append((name, text))
    return sorted(out)


def decode_g722(path: Path) -> np.ndarray:
    """A raw G.722 prompt as 16 kHz float32 (ffmpeg)."""
    done = subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "g722", "-i", str(path), "-f", "f32le", "-ac", "1",
         "-ar", str(SAMPLE_RATE), "-"], check=True, capture_output=True)
    return np.frombuffer(done.stdout, dtype=np.float32).copy()


def level(audio: np.ndarray, dbfs: float = TARGET_RMS_DBFS) -> np.ndarray:
    """Scale to an RMS level measured over the loud frames only."""
    frames = audio[: len(audio) // 160 * 160].reshape(-1, 160)
    rms = np.sqrt(np.mean(frames.astype(np.float64) ** 2, axis=1))
    loud = rms[rms > rms.max() * 0.1] if rms.size else rms
    current = float(np.sqrt(np.mean(loud**2))) if loud.size else 0.0
    if current <= 0:
        return audio.astype(np.float32)
    return (audio * (10 ** (dbfs / 20) / current)).astype(np.float32)


def trimmed(audio: np.ndarray) -> np.ndarray:
    start, end = speech_bounds(audio)
    return audio[start:end]


def neural_texts(seed: int, count: int) -> list[tuple[str, str, str]]:
    """(key, scenario, text) of call-centre turns from the benchmark's scenarios ("|" dropped)."""
    rng = random.Random(seed)
    out = []
    scenarios = list(corpus.SCENARIOS)
    for i in range(count):
        scenario = scenarios[i % len(scenarios)]
        template = rng.choice(corpus.SCENARIOS[scenario])
        text = re.sub(r"\s*\|\s*", " ", corpus._fill(template, rng)).strip()
        out.append((f"neural-{i:03d}", scenario, text))
    return out


def label_decode(options: AsrOptions) -> AsrOptions:
    """The engine's decoding without its second decodes (where tiny.en stopped early or skipped
    a stretch: stops 38-40). Those recover words the engine would lose, the engine's business,
    not the labels'; with them on, two long Asterisk prompts of 973 utterances got other word
    times, and the real voice's sets other pauses, than the corpus every result was measured on.
    """
    return replace(options, decode_on_s=0.0, skipped_word_s=0.0)


class Sources:
    """Loads utterances, synthesising/decoding once and caching audio and word times."""

    def __init__(self, cache_dir: Path) -> None:
        self.cache = cache_dir / "natural"
        self.cache.mkdir(parents=True, exist_ok=True)
        self._transcriber: Any = None
        self._tts: Any = None

    def _words(self, key: str, audio: np.ndarray) -> list[tuple[str, float, float]]:
        path = self.cache / f"{key}.words.json"
        if path.exists():
            return [(str(w), float(a), float(b)) for w, a, b in json.loads(path.read_text())]
        words = self.words_of(audio)
        path.write_text(json.dumps(words))
        return words

    def words_of(self, audio: np.ndarray) -> list[tuple[str, float, float]]:
        """(word, start, end) seconds from our own Whisper."""
        if self._transcriber is None:
            from flux_cli.engine.models.loader import load_engine

            engine = load_engine(asr_threads=2, asr_workers=1)
            whisper = cast(WhisperTranscriber, engine.transcriber)
            self._transcriber = whisper.with_options(label_decode(whisper.options))
        result = self._transcriber.transcribe(audio, offset_s=0.0)
        return [(w.word, float(w.start or 0.0), float(w.end or 0.0)) for w in result.words]

    def last_word(self, audio: np.ndarray) -> str:
        """The last word Whisper hears in ``audio`` (checks a cut)."""
        words = self.words_of(audio)
        return words[-1][0] if words else ""

    def _audio(self, key: str, make: Any) -> np.ndarray:
        path = self.cache / f"{key}.f32"
        if path.exists():
            return np.fromfile(path, dtype=np.float32)
        audio = level(trimmed(make()))
        audio.tofile(path)
        return audio

    def real(self) -> list[Utterance]:
        ensure_packages()
        out = []
        for name, text in asterisk_texts():
            key = "real-" + name.replace("/", "_")
            audio = self._audio(key, lambda n=name: decode_g722(ASTERISK_DIR / f"{n}.g722"))
            if len(audio) < SAMPLE_RATE * 0.3:
                continue
            out.append(Utterance(key, "real", text, audio, self._words(key, audio)))
        return out

    def neural(self, seed: int, count: int) -> list[Utterance]:
        out = []
        for key, _scenario, text in neural_texts(seed, count):
            key = f"{NEURAL_VERSION}-{seed}-{key}"
            audio = self._audio(key, lambda t=text: self.speak(t))
            out.append(Utterance(key, "neural", text, audio, self._words(key, audio)))
        return out

    def speak(self, text: str) -> np.ndarray:
        """hibari's ``heart`` voice, the whole text as one utterance (seed 0), at 16 kHz."""
        import soxr

        if self._tts is None:
            from hibari import Hibari

            self._tts = Hibari(threads=1)
        audio = np.asarray(self._tts(text, seed=0), dtype=np.float32)
        return np.asarray(soxr.resample(audio, 24000, SAMPLE_RATE), dtype=np.float32)


def _norm(word: str) -> str:
    return re.sub(r"[^a-z0-9']", "", word.lower())


def energy_valleys(audio: np.ndarray, lo_s: float, hi_s: float) -> list[int]:
    """Sample positions of local minima of the 10 ms energy between two times."""
    lo = max(0, round(lo_s * SAMPLE_RATE))
    hi = min(len(audio), round(hi_s * SAMPLE_RATE))
    n = (hi - lo) // 160
    if n < 3:
        return []
    energy = np.mean(audio[lo: lo + n * 160].astype(np.float64).reshape(n, 160) ** 2, axis=1)
    smooth = np.convolve(energy, np.ones(3) / 3, mode="same")
    return [lo + i * 160 + 80 for i in range(1, n - 1)
            if smooth[i] <= smooth[i - 1] and smooth[i] <= smooth[i + 1]]


def cut_candidates(utt: Utterance, k: int) -> list[int]:
    """Where to cut after word ``k``: energy valleys near Whisper's boundary, best first.

    Whisper's word times on natural speech can be 100 ms off, so the valleys are ranked by
    distance to the boundary and by depth; the caller checks each by decoding.
    """
    left, right = utt.words[k], utt.words[k + 1]
    boundary = (left[2] + right[1]) / 2
    valleys = energy_valleys(utt.audio, left[1] + 0.04, right[2] - 0.04)
    if not valleys:
        return [round(boundary * SAMPLE_RATE)]
    frames = [float(np.mean(utt.audio[v - 80: v + 80].astype(np.float64) ** 2)) for v in valleys]
    loudest = max(frames) or 1.0
    return sorted(valleys, key=lambda v: abs(v / SAMPLE_RATE - boundary)
                  + 0.1 * frames[valleys.index(v)] / loudest)[:5]


def fade(piece: np.ndarray, *, start: bool, end: bool) -> np.ndarray:
    n = min(round(FADE_S * SAMPLE_RATE), len(piece) // 2)
    out = piece.copy()
    if n and start:
        out[:n] *= np.linspace(0.0, 1.0, n, dtype=np.float32)
    if n and end:
        out[-n:] *= np.linspace(1.0, 0.0, n, dtype=np.float32)
    return out


def pause_places(words: list[tuple[str, float, float]], rng: random.Random,
                 count: int) -> list[int]:
    """Word indices to pause after (never the last word): where people stop first."""
    if len(words) < 4 or count <= 0:
        return []
    inner = list(range(1, len(words) - 1))
    likely = [i for i in inner if words[i][0].endswith(",") or words[i][0].lower().strip(
        ".,?!") in {"and", "so", "but", "the", "a", "to", "is", "for", "um", "uh", "of",
                    "your", "my", "or", "then", "with"}]
    picks: list[int] = []
    for _ in range(count):
        pool = likely if likely and rng.random() < 0.6 else inner
        pool = [i for i in pool if all(abs(i - p) >= 2 for p in picks)]
        if not pool:
            break
        picks.append(rng.choice(pool))
    return sorted(picks)


def with_pauses(utt: Utterance, after: list[int], lengths: list[float],
                check: Any = None) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """The utterance with silences inserted after the given words; pause sample ranges.

    ``check(audio) -> last word`` (a decode) verifies each cut: the audio before it must end
    on word ``k``. A cut that cannot be verified is skipped (no pause there).
    """
    pieces: list[np.ndarray] = []
    pauses: list[tuple[int, int]] = []
    prev = 0
    pos = 0
    for index, seconds in zip(after, lengths, strict=True):
        cut = None
        for candidate in cut_candidates(utt, index):
            if candidate <= prev + 160 or candidate >= len(utt.audio) - 160:
                continue
            if check is None or _norm(check(utt.audio[:candidate])) == _norm(
                    utt.words[index][0]):
                cut = candidate
                break
        if cut is None:
            continue
        piece = fade(utt.audio[prev:cut], start=prev > 0, end=True)
        pieces.append(piece)
        pos += len(piece)
        n = round(seconds * SAMPLE_RATE)
        pieces.append(np.zeros(n, dtype=np.float32))
        pauses.append((pos, pos + n))
        pos += n
        prev = cut
    pieces.append(fade(utt.audio[prev:], start=prev > 0, end=False))
    return np.concatenate(pieces), pauses
