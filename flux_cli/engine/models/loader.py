"""Load the local engine's three models once per process.

Loading takes about a second and the models are shared by every connection, so the result
is cached; a lock makes concurrent first calls load once. Missing packages or model files
become one-line ``EngineUnavailable`` errors (exit code 6) instead of import tracebacks.
"""

from __future__ import annotations

import os
import threading

import numpy as np

from flux_cli.engine.eot_model import WHISPER_END, default_model
from flux_cli.engine.interfaces import SAMPLE_RATE, AsrInfo, Engine, SpeakerEncoder
from flux_cli.engine.models.asr import AsrOptions
from flux_cli.engine.models.whisper_models import DEFAULT_ASR, locate, spec_of
from flux_cli.engine.voice_change import env_choice
from flux_cli.errors import INSTALL_HINT, SMART_TURN_HINT, EngineUnavailable

VOICE_CHANGE_ENV = "FLUX_VOICE_CHANGE"  # 1 as --voice-change, 0 as --no-voice-change
INTERIM_OPTIONS = AsrOptions(beam_size=1, min_frames=500)
NEEDS_EXTRA = f"the local engine needs the [local] extra: {INSTALL_HINT}"

_lock = threading.Lock()
_engines: dict[tuple[str, int, int, bool | None], Engine] = {}


def load_engine(
    *, asr: str = DEFAULT_ASR, asr_threads: int = 1, asr_workers: int = 2,
    voice_change: bool | None = None,
) -> Engine:
    """The shared engine (Silero VAD, Whisper ``asr``, Smart Turn v3.2), loaded on first use.

    ``asr`` names a model of ``whisper_models.MODELS`` (tiny.en, base). Whisper runs
    ``asr_workers`` decodes at once, each on ``asr_threads`` threads: on two cores, two
    single-threaded decodes serve concurrent streams better than one on two.
    ``voice_change``: None (the default, unless ``FLUX_VOICE_CHANGE`` says otherwise) loads
    the speaker encoder, so a turn ends where the call's other voice starts once its two voices
    are known (``voice_profiles.py``); True (``--voice-change``) also compares the voices at
    every resumed pause (``voice_change.py``); False (``--no-voice-change``) listens to no voice.
    """
    if voice_change is None:
        voice_change = env_choice(os.environ.get(VOICE_CHANGE_ENV))
    key = (asr, asr_threads, asr_workers, voice_change)
    with _lock:
        engine = _engines.get(key)
        if engine is None:
            try:
                engine = _load(asr_threads, asr_workers, asr, voice_change)
            except EngineUnavailable:
                raise
            except (ImportError, OSError, RuntimeError, ValueError) as exc:
                raise EngineUnavailable(f"cannot load the local engine: {exc}") from None
            _engines[key] = engine
        return engine


def _load(asr_threads: int, asr_workers: int, asr: str = DEFAULT_ASR,
          voice_change: bool | None = None) -> Engine:
    try:
        import ctranslate2  # noqa: F401
        import faster_whisper  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError as exc:
        raise EngineUnavailable(f"{NEEDS_EXTRA} ({exc.name} is missing)") from None
    spec = spec_of(asr)
    from flux_cli.engine.models.asr import WhisperTranscriber
    from flux_cli.engine.models.blas_threads import limit_openblas
    from flux_cli.engine.models.smart_turn import ModelFileError, SmartTurn
    from flux_cli.engine.models.vad import SileroVad, silero_path

    vad_file = silero_path()
    if not vad_file.is_file():
        raise EngineUnavailable(f"Silero VAD model not found at {vad_file}; {NEEDS_EXTRA}")
    whisper = locate(asr)  # one line naming the pip extra if its package is missing
    try:
        smart_turn = SmartTurn()
    except ModelFileError as exc:
        raise EngineUnavailable(
            f"Smart Turn v3.2: {exc}; install it with {SMART_TURN_HINT}"
        ) from None
    # The decisions' decodes score their ending only if the end-of-turn model weighs it.
    final = AsrOptions(sentence_end=default_model().uses(WHISPER_END))
    transcriber = WhisperTranscriber(whisper.path, intra_threads=asr_threads,
                                     inter_threads=asr_workers, options=final,
                                     files=whisper.files)
    engine = Engine(
        vad=SileroVad(vad_file),
        transcriber=transcriber,
        smart_turn=smart_turn,
        # Interim text is replaced within a second: greedy decoding of a shorter encoder
        # input (the encoder's cost is most of a decode) is cheaper and enough.
        interim_transcriber=transcriber.with_options(INTERIM_OPTIONS),
        asr=AsrInfo(spec.name, spec.label, spec.multilingual),
        # The call's voices by default: on one voice they cost next to no cut-off, on mono
        # two-party calls they end most changes once both voices are known. The pause check
        # is opt-in: it finds changes earlier in a call but splits some one-voice turns
        # (benchmarks/results/voice_change_*.md).
        speaker=_speaker_for(voice_change),
        voice_pauses=bool(voice_change),
    )
    limit_openblas(1)  # its idle threads spin: every model call would cost twice its CPU
    _warm_up(engine)
    return engine


def _warm_up(engine: Engine) -> None:
    """One call to each model, so the first caller does not pay for lazy initialisation."""
    noise = np.random.default_rng(0).standard_normal(SAMPLE_RATE).astype(np.float32) * 0.01
    engine.vad.new_stream().process(noise)
    engine.transcriber.transcribe(noise, offset_s=0.0)
    engine.smart_turn.predict(noise)


def _speaker_for(voice_change: bool | None) -> SpeakerEncoder | None:
    """``--voice-change`` needs the encoder; the default uses it where installed; off: none."""
    if voice_change is False:
        return None
    return _required_speaker_encoder() if voice_change else load_speaker_encoder()


def _required_speaker_encoder() -> SpeakerEncoder:
    encoder = load_speaker_encoder()
    if encoder is None:
        raise EngineUnavailable(
            "--voice-change needs the speaker encoder's weights (speaker_ge2e.npz), which are "
            f"not installed with this copy of flux; {NEEDS_EXTRA}")
    return encoder


def load_speaker_encoder() -> SpeakerEncoder | None:
    """The speaker encoder for voice changes, or None where its weights are not installed."""
    try:
        from flux_cli.engine.models.speaker import SpeakerEncoder as Encoder
    except ImportError:
        return None
    try:
        return Encoder()
    except (OSError, ValueError):
        return None
