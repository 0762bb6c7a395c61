"""Smart Turn v3.2 (Pipecat's CPU ONNX end-of-turn classifier), without importing Pipecat.

Pipecat's ``__init__`` pulls in its whole framework, so the model file is found through the
package's import spec and its bytes are checked once against the hash we tested with.
The graph ends in a Sigmoid (its output is named ``logits`` but is already a probability
that the turn is complete).
"""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path
from typing import Any

import numpy as np

from flux_cli.engine.interfaces import SAMPLE_RATE, Audio
from flux_cli.engine.models.vad import make_session

MODEL_FILE = ("audio", "turn", "smart_turn", "data", "smart-turn-v3.2-cpu.onnx")
MODEL_SHA256 = "2bb026316b14a660486a75b1733cd3fbab8c2fd0314dc9af7be49f8cca967e4f"
WINDOW_SAMPLES = 8 * SAMPLE_RATE  # the model hears the last 8 s of the turn
MEL_FRAMES = 800
VARIANCE_EPS = 1e-7


class ModelFileError(Exception):
    """The Smart Turn file is missing or is not the file we tested."""


def smart_turn_path() -> Path:
    """The ONNX file inside the installed ``pipecat-ai`` package (not imported)."""
    spec = importlib.util.find_spec("pipecat")
    if spec is None or not spec.submodule_search_locations:
        raise ModelFileError("pipecat-ai is not installed")
    for location in spec.submodule_search_locations:
        path = Path(location).joinpath(*MODEL_FILE)
        if path.is_file():
            return path
    raise ModelFileError("pipecat-ai does not contain smart-turn-v3.2-cpu.onnx")


def check_sha256(path: Path, expected: str = MODEL_SHA256) -> None:
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != expected:
        raise ModelFileError(f"{path.name} has sha256 {digest[:12]}…, expected {expected[:12]}…")


def last_8_seconds(audio: Audio) -> Audio:
    """The end of the turn, zero-padded at the front to exactly 8 s, then zero-mean/unit-var."""
    tail = np.asarray(audio, dtype=np.float32).reshape(-1)[-WINDOW_SAMPLES:]
    window = np.zeros(WINDOW_SAMPLES, dtype=np.float32)
    window[WINDOW_SAMPLES - tail.size :] = tail
    normalised = (window - window.mean()) / np.sqrt(window.var() + VARIANCE_EPS)
    return normalised.astype(np.float32)


class SmartTurn:
    """``SmartTurnModel``: one shared ORT session; the feature extractor is read-only."""

    def __init__(self, path: Path | None = None, *, verify: bool = True) -> None:
        from faster_whisper.feature_extractor import FeatureExtractor

        model_path = path or smart_turn_path()
        if verify:
            check_sha256(model_path)
        self._session: Any = make_session(model_path)
        self._features = FeatureExtractor(feature_size=80)

    def features(self, audio: Audio) -> np.ndarray:
        """Whisper log-mel [80, 800] of the last 8 s.

        ``padding=0``: 128000 samples give 801 STFT frames, the extractor drops the last,
        so the ``max - 8`` clamp sees exactly the 800 frames the model was trained on
        (matches Pipecat's own extractor to ~1e-5).
        """
        mel = self._features(last_8_seconds(audio), padding=0)
        return np.ascontiguousarray(mel[:, :MEL_FRAMES], dtype=np.float32)

    def predict(self, audio: Audio) -> float:
        """Probability that the turn whose audio ends here is complete (acoustics only)."""
        batch = self.features(audio)[np.newaxis]
        (out,) = self._session.run(None, {"input_features": batch})
        return float(np.asarray(out).reshape(-1)[0])
