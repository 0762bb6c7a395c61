"""``flux transcribe`` as a library call: settings in, exit code out (or a FluxError).

Order matters and is deliberate: check every flag, open the input and read its first frame,
and only then start a local engine or connect, so bad input never costs a connection.
Whatever way the stream ends, what was received is shown before the error is raised.
"""

from __future__ import annotations

import contextlib
import io
import logging
import time
from collections.abc import Iterator, Sequence
from itertools import chain
from typing import TYPE_CHECKING, Any, TextIO, cast

from flux_cli.client import AudioFeed, Outcome, Session
from flux_cli.errors import (
    INTERRUPTED_EXIT_CODE,
    AudioInputError,
    ConnectionFailed,
    EngineUnavailable,
    OutputFailed,
    ServerError,
    UsageError,
)
from flux_cli.render.captions import CaptionFormat, CaptionOutput, CaptionWriter
from flux_cli.render.display import Display, Output
from flux_cli.render.jsonl import JsonlLog
from flux_cli.render.plain import PlainOutput
from flux_cli.render.summary import end_of_run_line
from flux_cli.settings import Env, TranscribeSettings, resolve_output, stream_url

if TYPE_CHECKING:
    from flux_cli.keys import KeyPanel

NORMAL_CLOSE_CODES = (None, 1000, 1005)
SUMMARISED = ("live", "text")  # modes that end with a summary line on stderr


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
        speed = settings.speed if paced else 0.0
        return AudioFeed(_with_first(_paced_pages(pages, speed), name), None, None)
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


def _status_line(env: Env, line: str) -> None:
    env.stderr.write(line + "\n")
    env.stderr.flush()


def _status(env: Env, text: str) -> None:
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


def _outputs(settings: TranscribeSettings, env: Env, host: str, source: Any) -> list[Output]:
    mode = resolve_output(settings.output, settings.jsonl, env.stdout_isatty)
    if mode == "none":
        return []
    if mode in ("text", "json"):
        return [PlainOutput(env.stdout, env.stderr, as_json=mode == "json")]
    from flux_cli.render.live import LiveOutput, PanelInfo

    params = settings.params
    info = PanelInfo(
        host=host,
        source=settings.source if settings.source != "-" else "stdin",
        duration_s=source.duration_s,
        eot_threshold=params.effective_eot_threshold,
        eager_eot_threshold=params.eager_eot_threshold,
    )
    return [LiveOutput.on_stream(env.stdout, info)]


def start_local(settings: TranscribeSettings, env: Env, stack: contextlib.ExitStack) -> str:
    """Start the embedded engine (lazily imported: it is an optional extra)."""

    def status(text: str) -> None:
        if settings.debug:
            _status(env, f"local engine: {text}")

    _status(env, "no --url and no DEEPGRAM_API_KEY: using the local engine")
    try:
        from flux_cli.server.embedded import start_embedded_server
    except ImportError as exc:
        raise EngineUnavailable(
            f"the local engine is not available ({exc}); install it with "
            "pip install 'flux-cli[local]', or pass --url / set DEEPGRAM_API_KEY"
        ) from None
    if not settings.debug:
        # The engine shares our stderr: its logs (e.g. a client that left early, as with
        # `| head -1`) are noise next to the client's own one-line errors.
        logging.getLogger("flux_cli.server").disabled = True
    server = start_embedded_server(on_status=status)
    stack.callback(server.close)
    return str(server.url)


def run(settings: TranscribeSettings, env: Env) -> int:
    """Stream one input and show the turns; 0 or 130, or raise a FluxError."""
    from flux_cli.audio import open_source

    settings.validate()
    with contextlib.ExitStack() as stack:
        log = open_log(settings.jsonl, env, stack)
        captions = caption_outputs(settings, stack)
        source = open_source(
            settings.source,
            raw=settings.raw if settings.raw.is_set else None,
            channel=settings.channel,
            stdin=env.stdin,
            notice=lambda text: _status(env, text),
        )
        stack.callback(source.close)
        feed = build_feed(source, settings)
        base = settings.url if settings.url is not None else start_local(settings, env, stack)
        url = stream_url(base, settings.params)
        from urllib.parse import urlsplit

        outputs = _outputs(settings, env, urlsplit(url).netloc, source)
        display = Display([*outputs, *captions], log)
        session = Session(
            url,
            feed,
            display,
            api_key=settings.api_key if settings.url is not None else None,
            force_end_turn_at_close=settings.force_end_turn,
            params=settings.params,
            reconnect=settings.reconnect,
        )
        keys = _keys(session, display, outputs, settings, env)
        try:
            outcome = session.run()
        finally:
            if keys is not None:
                keys.stop()
            display.close()
        interrupted = check_outcome(outcome)  # a failed stream ends on its one error line
        if resolve_output(settings.output, settings.jsonl, env.stdout_isatty) in SUMMARISED:
            state = display.state
            _status_line(env, end_of_run_line(state.turns, state.audio_sent_s))
        if interrupted:
            return INTERRUPTED_EXIT_CODE
        _hint_if_nothing_heard(display, env)
    return 0


def _keys(
    session: Session,
    display: Display,
    outputs: Sequence[Output],
    settings: TranscribeSettings,
    env: Env,
) -> KeyPanel | None:
    """Keys for the live panel in a real terminal (``keys``); None anywhere else."""
    from flux_cli.render.live import LiveOutput

    panels = [o for o in outputs if isinstance(o, LiveOutput)]
    if not panels or not env.stdout_isatty:
        return None
    from flux_cli import keys

    params = settings.params
    reader = keys.attach(
        session,
        lambda: display.state,
        session.finish,
        params.effective_eot_threshold,
        params.eager_eot_threshold,
    )
    if reader is not None:
        panels[0].footer = lambda: reader.footer
    return reader


def run_many(
    settings: TranscribeSettings,
    sources: Sequence[str],
    env: Env,
    *,
    jobs: int = 1,
    multichannel: bool = False,
    channel_names: str | None = None,
) -> int:
    """One input, several (``batch``), or one input's channels (``multichannel``)."""
    if jobs < 1:
        raise UsageError(f"--jobs must be 1 or more, got {jobs}")
    if multichannel:
        from flux_cli import multichannel as multi

        if len(sources) != 1:
            raise UsageError("--multichannel takes one input")
        return multi.run(settings, multi.parse_names(channel_names), env)
    if channel_names is not None:
        raise UsageError("--channel-names names the channels of --multichannel")
    if len(sources) > 1:
        from flux_cli import batch

        return batch.run(settings, sources, jobs, env)
    return run(settings, env)


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


def _hint_if_nothing_heard(display: Display, env: Env) -> None:
    """A clean end with no words at all is most often silent input or the wrong channel."""
    if any(turn.transcript.strip() for turn in display.state.turns):
        return
    _status(
        env,
        f"no speech recognised in {display.state.audio_sent_s:.1f} s of audio; is the input "
        "silent or only noise? (check the recording level, or pick a --channel)",
    )
