"""Stream set-up shared by every runner (one input, several, one input's channels).

Each runner opens its inputs, logs and caption files, builds the frames it sends and starts
the local engine through these functions, so the rules (bad paths cost no connection, a full
disk is exit 7, the engine is imported only when needed) are written once.
"""

from __future__ import annotations

import contextlib
import io
import logging
import time
from collections.abc import Iterator
from itertools import chain
from typing import Any, TextIO, cast

from flux_cli.client.feed import AudioFeed, Outcome
from flux_cli.env import Env
from flux_cli.errors import (
    INSTALL_HINT,
    AudioInputError,
    ConnectionFailed,
    EngineUnavailable,
    OutputFailed,
    ServerError,
    UsageError,
)
from flux_cli.render.captions import CaptionFormat, CaptionOutput, CaptionWriter
from flux_cli.render.display import Output
from flux_cli.render.jsonl import JsonlLog
from flux_cli.transcribe.settings import TranscribeSettings

NORMAL_CLOSE_CODES = (None, 1000, 1005)


def _paced_pages(pages: Iterator[bytes], speed: float) -> Iterator[bytes]:
    """Ogg pages released at the pace their granule positions say (speed 0: at once)."""
    from flux_cli.audio.ogg import opus_page_end_seconds

    start = time.monotonic()
    due = 0.0
    for page in pages:
        if speed > 0:
            delay = start + due / speed - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        yield page
        end = opus_page_end_seconds(page)
        if end is not None:
            due = end


def _with_first(frames: Iterator[bytes], name: str) -> Iterator[bytes]:
    """Read the first frame now: an empty or unreadable input fails before we connect."""
    for first in frames:
        if first:
            return chain([first], frames)
    raise AudioInputError(f"{name}: contains no audio")


def build_feed(source: Any, settings: TranscribeSettings) -> AudioFeed:
    """The frames the sender thread sends, and how to pace them."""
    from flux_cli.audio import Pacer, frame_samples, wire_frames
    from flux_cli.audio.encoding import bytes_per_sample

    params = settings.params
    name = settings.source
    paced = not source.is_live and settings.speed > 0
    if params.encoding == "ogg-opus":
        pages = source.ogg_opus_bytes()
        if pages is None:
            raise UsageError("--encoding ogg-opus passes Ogg/Opus input through; this input is not")
        from flux_cli.audio.ogg import opus_page_end_seconds

        speed = settings.speed if paced else 0.0
        return AudioFeed(
            _with_first(_paced_pages(pages, speed), name), None, None,
            end_s=opus_page_end_seconds,
        )
    encoding = params.encoding or "linear16"
    rate = params.sample_rate or 16000
    frames = wire_frames(source, sample_rate=rate, chunk_ms=settings.chunk_ms, encoding=encoding)
    pace = None
    if paced:
        pace = Pacer(frame_samples(rate, settings.chunk_ms) / rate, settings.speed).wait
    width = bytes_per_sample(encoding)
    return AudioFeed(
        _with_first(iter(frames), name),
        rate * width,
        pace,
        sample_bytes=width,
        can_wait=not source.is_live,
    )


def status_line(env: Env, line: str) -> None:
    env.stderr.write(line + "\n")
    env.stderr.flush()


def status(env: Env, text: str) -> None:
    """One status line on stderr (stdout carries only the product)."""
    env.stderr.write(f"flux: {text}\n")
    env.stderr.flush()



class _CheckedLog(io.TextIOBase):
    """The ``--jsonl`` stream; a failed write (full disk, I/O error) becomes OutputFailed.

    The session then ends as any other failure does: what was received is shown, and the
    process exits with the output error's code instead of an unexpected traceback.
    """

    def __init__(self, stream: TextIO, name: str) -> None:
        self._stream = stream
        self._name = name

    def _failed(self, exc: OSError) -> OutputFailed:
        return OutputFailed(f"cannot write --jsonl {self._name}: {exc.strerror or exc}")

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise self._failed(exc) from None

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise self._failed(exc) from None


def _close_quietly(stream: TextIO) -> None:
    """Close a log whose failure has already been reported (close flushes and fails again)."""
    with contextlib.suppress(OSError):
        stream.close()


def open_log(target: str | None, env: Env, stack: contextlib.ExitStack) -> JsonlLog | None:
    if target is None:
        return None
    if target == "-":
        return JsonlLog(env.stdout)
    try:
        stream: TextIO = open(target, "w", encoding="utf-8")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise UsageError(f"cannot write --jsonl {target}: {exc.strerror or exc}") from None
    stack.callback(_close_quietly, stream)
    return JsonlLog(cast(TextIO, _CheckedLog(stream, target)))


def open_text(path: str, flag: str, stack: contextlib.ExitStack) -> TextIO:
    """A file we write as the stream runs (line-buffered by our own flushes)."""
    try:
        return stack.enter_context(open(path, "w", encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"cannot write {flag} {path}: {exc.strerror or exc}") from None


def caption_outputs(
    settings: TranscribeSettings, stack: contextlib.ExitStack, voice: str | None = None
) -> list[Output]:
    """``--srt`` / ``--vtt`` writers, opened before connecting so a bad path costs nothing."""
    outputs: list[Output] = []
    targets: list[tuple[str | None, CaptionFormat]] = [(settings.srt, "srt"), (settings.vtt, "vtt")]
    for path, fmt in targets:
        if path is not None:
            stream = open_text(path, f"--{fmt}", stack)
            outputs.append(CaptionOutput(CaptionWriter(stream, fmt), voice))
    return outputs


MULTI_MODEL = "flux-general-multi"


def refuse_unservable_model(settings: TranscribeSettings) -> None:
    """A multilingual model on an English-only local Whisper: say so before starting it."""
    if settings.params.model != MULTI_MODEL:
        return
    from flux_cli.engine.models.whisper_models import embedded_choice, spec_of

    asr = embedded_choice(settings.asr, settings.params.model)
    if not spec_of(asr).multilingual:
        raise UsageError(
            f"the local engine's Whisper {asr} is English-only: --model {MULTI_MODEL} needs "
            "--asr base (the [base] extra), Deepgram (set DEEPGRAM_API_KEY) or a --url that "
            "serves it; or use --model flux-general-en"
        )


REMOTE_VOICE_CHANGE = ("--voice-change and --no-voice-change are the local engine's: the server "
                       "at --url (or Deepgram) decides its own turns")


def server_base(settings: TranscribeSettings, env: Env, stack: contextlib.ExitStack) -> str:
    """Where to stream: the --url (or Deepgram), else the embedded engine, started here."""
    if settings.url is None:
        return start_local(settings, env, stack)
    if settings.voice_change is not None:
        status(env, REMOTE_VOICE_CHANGE)
    return settings.url


def start_local(settings: TranscribeSettings, env: Env, stack: contextlib.ExitStack) -> str:
    """Start the embedded engine (lazily imported: it is an optional extra)."""

    def engine_status(text: str) -> None:
        if settings.debug:
            status(env, f"local engine: {text}")

    try:
        from flux_cli.engine.models.whisper_models import embedded_choice
        from flux_cli.engine.voice_change import startup_note
        from flux_cli.server.embedded import start_embedded_server
    except ImportError as exc:
        raise EngineUnavailable(
            f"the local engine is not available ({exc}); install it with "
            f"{INSTALL_HINT}, or pass --url / set DEEPGRAM_API_KEY"
        ) from None
    if not settings.debug:
        # The engine shares our stderr: its logs (e.g. a client that left early, as with
        # `| head -1`) are noise next to the client's own one-line errors.
        logging.getLogger("flux_cli.server").disabled = True
    asr = embedded_choice(settings.asr, settings.params.model)
    status(env, f"no --url and no DEEPGRAM_API_KEY: using the local engine (Whisper {asr}"
           f"{startup_note(settings.voice_change)})")
    server = start_embedded_server(on_status=engine_status, asr=asr,
                                   voice_change=settings.voice_change)
    stack.callback(server.close)
    return str(server.url)


def check_outcome(outcome: Outcome) -> bool:
    """Raise the FluxError for a stream that ended badly; True if it was interrupted."""
    if outcome.error is not None:
        raise ServerError(f"server error {outcome.error.code}: {outcome.error.description}")
    if outcome.interrupted:
        return True
    if outcome.closed_early:
        raise ConnectionFailed(
            "the server closed the stream before the end of the audio "
            f"(code {outcome.close_code})"
        )
    if outcome.close_code not in NORMAL_CLOSE_CODES:
        raise ConnectionFailed(f"the server closed the stream with code {outcome.close_code}")
    return False
