"""Streaming Silero VAD (v6, the graph faster-whisper ships) over one shared ONNX session.

The graph takes rows of 64 context samples + a 512-sample window and carries an LSTM
state (``h``, ``c``) from row to row, so a batch of rows in one call gives exactly the
probabilities of the same rows fed one by one. A stream therefore only has to keep the
last 64 samples, the state and the samples that do not yet fill a window; which frame
sizes the client sends then makes no difference to the probabilities.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import numpy as np

from flux_cli.engine.interfaces import VAD_WINDOW, Audio
from flux_cli.engine.models.cpu import exact_int8_needed

CONTEXT = 64  # samples of the previous window the graph sees before each window
STATE_SHAPE = (1, 1, 128)
MAX_ROWS = 2048  # windows per ONNX call (~65 s of audio): bounds one call's memory


def silero_path() -> Path:
    """Where faster-whisper keeps the Silero v6 graph, found without importing the package."""
    spec = importlib.util.find_spec("faster_whisper")
    for location in (spec.submodule_search_locations or []) if spec else []:
        path = Path(location) / "assets" / "silero_vad_v6.onnx"
        if path.is_file():
            return path
    return Path("faster_whisper/assets/silero_vad_v6.onnx")  # missing: the loader reports it


# Exact int8 kernels where the fast ones saturate (see cpu.py): Smart Turn's int8 graph
# must score the same on every CPU.
EXACT_INT8 = ("session.x64quantprecision", "1")


def make_session(path: Path) -> Any:
    """One single-threaded ORT session; many streams share it (``run`` is thread-safe)."""
    import onnxruntime

    opts = onnxruntime.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    opts.log_severity_level = 3
    if exact_int8_needed():
        opts.add_session_config_entry(*EXACT_INT8)
    return onnxruntime.InferenceSession(
        str(path), sess_options=opts, providers=["CPUExecutionProvider"]
    )


class SileroVadStream:
    """Per-connection state: context samples, LSTM state and the unfinished window."""

    def __init__(self, session: Any) -> None:
        self._session = session
        self._context = np.zeros(CONTEXT, dtype=np.float32)
        self._h = np.zeros(STATE_SHAPE, dtype=np.float32)
        self._c = np.zeros(STATE_SHAPE, dtype=np.float32)
        self._pending = np.zeros(0, dtype=np.float32)

    def process(self, samples: Audio) -> list[float]:
        """One probability per complete 512-sample window, in stream order."""
        data = np.asarray(samples, dtype=np.float32).reshape(-1)
        if self._pending.size:
            data = np.concatenate([self._pending, data])
        n_windows = data.size // VAD_WINDOW
        self._pending = data[n_windows * VAD_WINDOW :].copy()
        probs: list[float] = []
        for first in range(0, n_windows, MAX_ROWS):
            count = min(MAX_ROWS, n_windows - first)
            block = data[first * VAD_WINDOW : (first + count) * VAD_WINDOW]
            probs.extend(self._run(block.reshape(count, VAD_WINDOW)))
        return probs

    def _run(self, windows: Audio) -> list[float]:
        # Each row's context is the tail of the window before it (the stream's, for row 0).
        contexts = np.empty((windows.shape[0], CONTEXT), dtype=np.float32)
        contexts[0] = self._context
        contexts[1:] = windows[:-1, -CONTEXT:]
        rows = np.ascontiguousarray(np.concatenate([contexts, windows], axis=1))
        out, self._h, self._c = self._session.run(None, {"input": rows, "h": self._h, "c": self._c})
        self._context = windows[-1, -CONTEXT:].copy()
        return [float(p) for p in np.asarray(out).reshape(-1)]


class SileroVad:
    """The shared model: hands out independent streams."""

    def __init__(self, path: Path | None = None) -> None:
        self._session = make_session(path or silero_path())

    def new_stream(self) -> SileroVadStream:
        return SileroVadStream(self._session)
