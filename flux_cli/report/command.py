"""``flux report`` as a library call: read the log(s), print the report, draw the plot.

The thin shell around the pure parts: file reading and its errors, the choice between a
Rich table (stdout is a terminal) and plain text, and where each output goes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, TextIO, TypeVar

from flux_cli.env import Env
from flux_cli.errors import LogInputError, UsageError
from flux_cli.report import combined, formats
from flux_cli.report.log import LogError, RunLog, channels_in, read_log
from flux_cli.report.summary import compare, summarise, turn_rows

ReportFormat = Literal["text", "json", "srt", "vtt"]
REPORT_FORMATS: tuple[ReportFormat, ...] = ("text", "json", "srt", "vtt")
T = TypeVar("T")


@dataclass(frozen=True)
class ReportSettings:
    log: str
    format: ReportFormat = "text"
    plot: str | None = None
    compare: str | None = None
    channel: str | None = None
    window: str | None = None  # "START-END" seconds, for --plot


def load(path: str, channel: str | None = None) -> RunLog:
    """Read a log file, or raise LogInputError (exit 3) with one line saying why."""
    return _reading(path, lambda f: read_log(f, path, channel))


def load_channels(path: str) -> dict[str, RunLog]:
    """A ``--multichannel`` log as one RunLog per channel (empty for a one-stream log)."""
    names = _reading(path, channels_in)
    return {name: load(path, name) for name in names} if len(names) > 1 else {}


def _reading(path: str, read: Callable[[TextIO], T]) -> T:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return read(f)
    except FileNotFoundError:
        raise LogInputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise LogInputError(f"{path}: is a directory, not a --jsonl log") from None
    except OSError as exc:
        raise LogInputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except LogError as exc:
        raise LogInputError(str(exc)) from None


LONG_PLOT_S = 300.0  # past this, one page of plot is too dense to read: hint at --window


def parse_window(text: str) -> tuple[float, float]:
    """``"600-660"`` into (600.0, 660.0), or a UsageError saying what is expected."""
    try:
        start_text, end_text = text.split("-", 1)
        start, end = float(start_text), float(end_text)
    except ValueError:
        raise UsageError(
            f"--window takes START-END in seconds, e.g. 600-660, got {text!r}"
        ) from None
    if not 0 <= start < end:
        raise UsageError(f"--window {text}: START must be 0 or more and before END")
    return start, end


def run(settings: ReportSettings, env: Env) -> int:
    if settings.format not in REPORT_FORMATS:
        raise UsageError(f"--format must be one of {', '.join(REPORT_FORMATS)}")
    if settings.plot is not None and not settings.plot.lower().endswith(".png"):
        raise UsageError(f"--plot writes a PNG; name it *.png, got {settings.plot!r}")
    window = parse_window(settings.window) if settings.window is not None else None
    if window is not None and settings.plot is None:
        raise UsageError("--window chooses what --plot draws; give --plot FILE.png too")
    if settings.channel is None:
        runs = load_channels(settings.log)
        if runs:
            return _combined(settings, runs, env)
    run_log = load(settings.log, settings.channel)
    other = load(settings.compare, settings.channel) if settings.compare is not None else None
    summary, rows = summarise(run_log), turn_rows(run_log)
    comparison = None
    if other is not None:
        comparison = (summarise(other), compare(run_log.turns, other.turns))
    if settings.plot is not None:
        from flux_cli.report.plot import write_plot

        write_plot(settings.plot, run_log, other, window)  # first: a missing extra fails early
    if settings.format == "json":
        env.stdout.write(formats.json_report(summary, rows, comparison))
    elif settings.format in ("srt", "vtt"):
        env.stdout.write(formats.captions_report(run_log, settings.format))
    elif env.stdout_isatty:
        from flux_cli.render.report_table import print_report

        print_report(env.stdout, formats.report_table(summary, rows, comparison))
    else:
        env.stdout.write(formats.text_report(summary, rows, comparison))
    env.stdout.flush()
    if settings.plot is not None:
        env.stderr.write(f"flux: plot written to {settings.plot}\n")
        if window is None and run_log.audio_s > LONG_PLOT_S:
            env.stderr.write(
                f"flux: the plot covers {run_log.audio_s:.0f} s of audio; "
                "--window START-END (seconds) draws a stretch of it readably\n"
            )
        env.stderr.flush()
    return 0


def _combined(settings: ReportSettings, runs: dict[str, RunLog], env: Env) -> int:
    """Every channel of a ``--multichannel`` log on one timeline (``--channel`` picks one)."""
    if settings.compare is not None or settings.plot is not None:
        raise UsageError(
            f"{settings.log} holds channels {', '.join(runs)}: --compare and --plot read one; "
            "pick it with --channel"
        )
    if settings.format == "json":
        env.stdout.write(combined.json_text(runs))
    elif settings.format in ("srt", "vtt"):
        env.stdout.write(combined.captions(runs, settings.format))
    else:
        env.stdout.write(combined.text(runs))
    env.stdout.flush()
    return 0
