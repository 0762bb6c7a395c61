"""Who is speaking: a GE2E speaker embedding in plain numpy, to notice a voice change.

Why: in a mono call a different voice starting after a short gap (or none) means the
previous turn ended, and neither the words nor Smart Turn can hear that. The encoder is the
GE2E model (3-layer LSTM over 40 mel bands, then a 256-d projection) that ships inside the
``resemblyzer`` wheel (Apache-2.0), converted once to ``speaker_ge2e.npz`` beside this file
by ``benchmarks/convert_speaker_encoder.py``, so the engine needs no torch. The front end
computes what the model was trained on: a power (not log) mel spectrogram of 25 ms Hann
windows every 10 ms, 40 Slaney-scaled bands, on audio raised to -30 dBFS if quieter; audio
longer than 1.6 s is cut into 1.6 s partials whose embeddings are averaged.

API: ``SpeakerEncoder.embed(audio16k) -> unit vector``; ``cosine(a, b)``: near 1 for one
voice, lower for two. ``SpeakerEncoder.similarity(reference, new)`` is what the engine compares:
the cosine after subtracting the mean embedding of many other voices' pieces of each length
(``speaker_background.npz``, from ``benchmarks/speaker_background.py``). Short pieces share a
large common direction that raw cosines mostly measure; without it the two voices of a
two-party call separate better (ROC AUC 0.80 -> 0.85 on its labelled train pairs, docs/TURNS.md).
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np

WEIGHTS_FILE = Path(__file__).with_name("speaker_ge2e.npz")
BACKGROUND_FILE = Path(__file__).with_name("speaker_background.npz")
SAMPLE_RATE = 16000
N_FFT = 400  # 25 ms
HOP = 160  # 10 ms
N_MELS = 40
PARTIAL_FRAMES = 160  # 1.6 s: the length the model was trained on
PARTIAL_STEP = 77  # frames between partials (1.3 partials a second)
MIN_COVERAGE = 0.75  # a last partial this full is kept (zero-padded)
TARGET_DBFS = -30.0
LAYERS = 3


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    """Slaney's mel scale: linear to 1 kHz (3 mels per 200 Hz), logarithmic above."""
    hz = np.asarray(hz, dtype=np.float64)
    mel = hz / (200.0 / 3)
    log_part = hz >= 1000.0
    mel[log_part] = 15.0 + np.log(hz[log_part] / 1000.0) / (np.log(6.4) / 27.0)
    return mel


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    mel = np.asarray(mel, dtype=np.float64)
    hz = mel * (200.0 / 3)
    log_part = mel >= 15.0
    hz[log_part] = 1000.0 * np.exp((np.log(6.4) / 27.0) * (mel[log_part] - 15.0))
    return hz


@lru_cache(maxsize=1)
def mel_filters() -> np.ndarray:
    """(N_MELS, N_FFT // 2 + 1) triangles, equally spaced in mel from 0 to 8 kHz, each
    scaled to unit area in Hz (Slaney's normalisation)."""
    fft_hz = np.linspace(0.0, SAMPLE_RATE / 2, N_FFT // 2 + 1)
    edges = _mel_to_hz(np.linspace(_hz_to_mel(np.array([0.0]))[0],
                                   _hz_to_mel(np.array([SAMPLE_RATE / 2]))[0], N_MELS + 2))
    widths = np.diff(edges)
    ramps = edges[:, None] - fft_hz[None, :]
    rising = -ramps[:-2] / widths[:-1, None]
    falling = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(rising, falling))
    weights *= (2.0 / (edges[2:] - edges[:-2]))[:, None]
    return weights.astype(np.float32)


def raised(audio: np.ndarray, target_dbfs: float = TARGET_DBFS) -> np.ndarray:
    """Quiet audio raised to ``target_dbfs`` RMS; louder audio left alone (as trained)."""
    rms = float(np.sqrt(np.mean(np.square(audio, dtype=np.float64)))) if audio.size else 0.0
    if rms <= 0.0:
        return audio
    gain_db = target_dbfs - 20.0 * np.log10(rms)
    return audio if gain_db < 0 else (audio * 10 ** (gain_db / 20)).astype(np.float32)


def mel_frames(audio: np.ndarray) -> np.ndarray:
    """(frames, N_MELS) power mel spectrogram; frame ``i`` is centred on sample ``i * HOP``."""
    padded = np.pad(np.asarray(audio, dtype=np.float32), N_FFT // 2)
    n = 1 + (len(padded) - N_FFT) // HOP
    index = np.arange(N_FFT)[None, :] + HOP * np.arange(n)[:, None]
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)  # periodic Hann
    spectrum = np.fft.rfft(padded[index] * window.astype(np.float32), axis=1)
    power = (spectrum.real**2 + spectrum.imag**2).astype(np.float32)
    return power @ mel_filters().T


def partial_starts(n_samples: int) -> list[int]:
    """Frame offsets of the 1.6 s partials covering ``n_samples`` (at least one)."""
    n_frames = int(np.ceil((n_samples + 1) / HOP))
    steps = max(1, n_frames - PARTIAL_FRAMES + PARTIAL_STEP + 1)
    starts = list(range(0, steps, PARTIAL_STEP))
    last = starts[-1] * HOP
    coverage = (n_samples - last) / (PARTIAL_FRAMES * HOP)
    if coverage < MIN_COVERAGE and len(starts) > 1:
        starts.pop()
    return starts


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


class SpeakerEncoder:
    """The converted GE2E weights (LSTM layers, then the projection), read from ``path``.

    Raises ``OSError`` when the weights file is missing (the engine then runs without it).
    ``pad_short``: audio shorter than one partial is zero-padded to 1.6 s, as resemblyzer
    does; by default the LSTM reads only the real frames instead (a third of the cost for
    0.5 s, and the last state is not washed out by a second of silence: see
    ``benchmarks/speaker_separation.py`` for both).
    """

    def __init__(self, path: Path = WEIGHTS_FILE, *, pad_short: bool = False,
                 background: Path | None = BACKGROUND_FILE) -> None:
        self.pad_short = pad_short
        self.background = Background.load(background) if background is not None else None
        with np.load(path) as d:
            layers = range(LAYERS)
            # per layer: inputs and recurrent state -> 4 gates (i, f, g, o), both biases summed
            self.w_in = tuple(d[f"w_in{k}"].astype(np.float32) for k in layers)
            self.w_rec = tuple(d[f"w_rec{k}"].astype(np.float32) for k in layers)
            self.bias = tuple(d[f"bias{k}"].astype(np.float32) for k in layers)
            self.proj = d["proj"].astype(np.float32)
            self.proj_bias = d["proj_bias"].astype(np.float32)

    def embed(self, audio: np.ndarray) -> np.ndarray:
        """A unit-length 256-d voice embedding of 16 kHz float32 speech (any length > 0)."""
        audio = raised(np.asarray(audio, dtype=np.float32).reshape(-1))
        if not self.pad_short and len(audio) < PARTIAL_FRAMES * HOP:
            return self.forward(mel_frames(audio)[None])[0].astype(np.float32)
        starts = partial_starts(len(audio))
        need = (starts[-1] + PARTIAL_FRAMES) * HOP
        if need >= len(audio):
            audio = np.pad(audio, (0, need - len(audio)))
        mel = mel_frames(audio)
        batch = np.stack([mel[s: s + PARTIAL_FRAMES] for s in starts])
        partials = self.forward(batch)
        mean = partials.mean(axis=0)
        return (mean / np.linalg.norm(mean)).astype(np.float32)

    def similarity(self, reference: np.ndarray, new: np.ndarray) -> float:
        """How alike two voices are: the cosine of the two embeddings, each less the
        background mean of its length (the raw cosine where no background is installed)."""
        return cosine(self.voice_vector(reference), self.voice_vector(new))

    def voice_vector(self, audio: np.ndarray) -> np.ndarray:
        """The embedding less the background mean of its length, at unit length: what
        ``similarity`` compares, and what ``VoiceProfiles`` groups into the call's voices."""
        vector = self.embed(audio)
        if self.background is not None:
            vector = vector - self.background.mean_for(len(audio))
        return (vector / max(float(np.linalg.norm(vector)), 1e-12)).astype(np.float32)

    def forward(self, mels: np.ndarray) -> np.ndarray:
        """(batch, frames, N_MELS) -> (batch, embedding) unit vectors: the last hidden state
        of the top LSTM layer, projected, ReLU, normalised."""
        x = mels.astype(np.float32)
        batch, frames, _ = x.shape
        hidden = self.w_rec[0].shape[0]
        h = np.zeros((batch, hidden), dtype=np.float32)
        for w_in, w_rec, bias in zip(self.w_in, self.w_rec, self.bias, strict=True):
            gates_in = x @ w_in + bias  # every frame's input part at once
            h = np.zeros((batch, hidden), dtype=np.float32)
            c = np.zeros((batch, hidden), dtype=np.float32)
            out = np.empty((batch, frames, hidden), dtype=np.float32)
            for t in range(frames):
                g = gates_in[:, t] + h @ w_rec
                i, f = _sigmoid(g[:, :hidden]), _sigmoid(g[:, hidden: 2 * hidden])
                cell, o = np.tanh(g[:, 2 * hidden: 3 * hidden]), _sigmoid(g[:, 3 * hidden:])
                c = f * c + i * cell
                h = o * np.tanh(c)
                out[:, t] = h
            x = out
        raw = np.maximum(h @ self.proj + self.proj_bias, 0.0)
        norms = np.linalg.norm(raw, axis=1, keepdims=True)
        return raw / np.maximum(norms, 1e-12)


class Background:
    """The mean embeddings of other voices' short and long pieces (see ``similarity``)."""

    def __init__(self, short: np.ndarray, long: np.ndarray, short_s: float, long_s: float
                 ) -> None:
        self.short, self.long = short, long
        self.short_s, self.long_s = short_s, long_s

    @classmethod
    def load(cls, path: Path) -> Background:
        """Read ``path`` (``OSError`` if it is missing, as for the weights)."""
        with np.load(path) as d:
            info = json.loads(str(d["info"]))
            return cls(d["short"].astype(np.float32), d["long"].astype(np.float32),
                       float(info["short_s"]), float(info["long_s"]))

    def mean_for(self, n_samples: int) -> np.ndarray:
        """The mean of the pieces nearest in length (on a log scale) to ``n_samples``."""
        seconds = max(n_samples, 1) / SAMPLE_RATE
        return self.short if seconds * seconds < self.short_s * self.long_s else self.long


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity of two embeddings (1: the same direction)."""
    return float(np.dot(a, b) / max(float(np.linalg.norm(a) * np.linalg.norm(b)), 1e-12))


@lru_cache(maxsize=1)
def default_encoder() -> SpeakerEncoder:
    """The committed weights, read once per process."""
    return SpeakerEncoder()
