"""``flux transcribe A B C [--jobs N]``: several inputs, each on its own connection.

Every input is opened (and its first frame read) before anything connects, so a missing
or broken file is reported at once and costs no connection; the rest go on. Up to ``jobs``
streams run at a time (``parallel``). Turn lines carry the input's name; ``--jsonl`` /
``--srt`` / ``--vtt`` name a directory that gets one file per input, named after it. On a
terminal a progress bar per file sits below the lines. At the end one summary line goes to
stderr, and the exit code is the highest of the inputs' codes (130 if interrupted).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from flux_cli.client.feed import AudioFeed
from flux_cli.client.parallel import JobResult, ParallelRun, StreamJob
from flux_cli.env import Env
from flux_cli.errors import INTERRUPTED_EXIT_CODE, FluxError, UsageError, error_line
from flux_cli.protocol import StreamParams
from flux_cli.render.captions import CaptionFormat, CaptionOutput, CaptionWriter
from flux_cli.render.display import Display, Output
from flux_cli.render.jsonl import JsonlLog
from flux_cli.render.labelled import LabelledLines, LabelledOutput
from flux_cli.render.summary import end_of_run_line
from flux_cli.transcribe.settings import TranscribeSettings, resolve_output, stream_url
from flux_cli.transcribe.setup import build_feed, check_outcome, open_text, server_base
from flux_cli.transcribe.targets import is_directory, make_dir, per_input_paths

if TYPE_CHECKING:
    from flux_cli.render.progress import FilesProgress

CAPTION_FORMATS: tuple[CaptionFormat, ...] = ("srt", "vtt")


@dataclass
class _Input:
    key: str
    label: str
    display: Display | None = None
    result: JobResult | None = None
    duration_s: float | None = None
    params: StreamParams | None = None  # what this input is streamed with (its wire rate)


def check_inputs(sources: Sequence[str], settings: TranscribeSettings) -> None:
    """Flags that make no sense with several inputs, refused before anything is opened."""
    if sources.count("-") > 1:
        raise UsageError("- (stdin) can be given only once")
    if settings.output == "live":
        raise UsageError("--output live follows one input; with several use text or json")
    for flag, target in (("--jsonl", settings.jsonl), ("--srt", settings.srt),
                         ("--vtt", settings.vtt)):
        if target == "-":
            raise UsageError(f"{flag} - takes one input; with several, give a directory")
        if target is not None and not is_directory(target):
            raise UsageError(
                f"{flag} {target}: with several inputs, name a directory (end it with /)"
            )


def run(settings: TranscribeSettings, sources: Sequence[str], jobs: int, env: Env) -> int:
    """Stream every input; the exit code is the highest of theirs (130 if interrupted)."""
    settings.validate()
    check_inputs(sources, settings)
    if jobs < 1:
        raise UsageError(f"--jobs must be 1 or more, got {jobs}")
    return _Batch(settings, sources, jobs, env).run()


class _Screen:
    """Where lines go: stdout and stderr, or above the progress bars on whichever is a tty."""

    def __init__(self, env: Env) -> None:
        self.env = env
        self.progress: FilesProgress | None = None
        if env.stdout_isatty or _isatty(env.stderr):
            from flux_cli.render.progress import FilesProgress

            self.progress = FilesProgress(env.stdout if env.stdout_isatty else env.stderr)

    def out(self, line: str) -> None:
        if self.progress is not None and self.env.stdout_isatty:
            self.progress.print_line(line)
        else:
            self.env.stdout.write(line + "\n")
            self.env.stdout.flush()

    def err(self, line: str) -> None:
        if self.progress is not None and not self.env.stdout_isatty:
            self.progress.print_line(line)
        else:
            self.env.stderr.write(line + "\n")
            self.env.stderr.flush()


class _Batch:
    """One run over several inputs: open them, stream them, report each and the whole."""

    def __init__(
        self, settings: TranscribeSettings, sources: Sequence[str], jobs: int, env: Env
    ) -> None:
        self.settings = settings
        self.sources = list(sources)
        self.jobs = jobs
        self.env = env
        self.secrets = [settings.api_key]
        self.inputs = [
            _Input(str(i), "stdin" if s == "-" else s) for i, s in enumerate(self.sources)
        ]
        self.by_key = {item.key: item for item in self.inputs}
        self.mode = resolve_output(settings.output, None, env.stdout_isatty)
        self.screen = _Screen(env)
        self.lines = LabelledLines(
            self.screen.out, self.screen.err, field="file", as_json=self.mode == "json"
        )
        self.files: dict[str, list[str]] = {}
        self.stop_requested: Callable[[], bool] = lambda: False

    def run(self) -> int:
        targets = (("--jsonl", self.settings.jsonl, "jsonl"), ("--srt", self.settings.srt, "srt"),
                   ("--vtt", self.settings.vtt, "vtt"))
        for flag, target, ext in targets:
            if target is not None:
                make_dir(flag, target)
                self.files[ext] = per_input_paths(target, self.sources, ext)
        progress = self.screen.progress
        with contextlib.ExitStack() as stack:
            if progress is not None:
                stack.callback(progress.stop)
            prepared = self._open_inputs(stack)
            stream_jobs = self._stream_jobs(prepared, stack) if prepared else []
            if progress is not None:  # after the local engine's status line, if any
                for item in self.inputs:
                    progress.add(item.key, item.label, item.duration_s)
                    if item.result is not None:
                        progress.finish(item.key, 0, "failed", 0.0)
            runner = ParallelRun(
                stream_jobs, self.jobs, check=check_outcome, on_tick=self._tick,
                on_done=self._done,
            )
            self.stop_requested = runner.stop.is_set
            for key, result in (runner.run() if stream_jobs else {}).items():
                if self.by_key[key].result is None:
                    self._done(key, result)
            for item in self.inputs:
                if item.display is not None:
                    item.display.close()
            if progress is not None:
                progress.stop()
            interrupted = runner.stop.is_set()
            self.env.stderr.write(_summary(self.inputs) + "\n")
            self.env.stderr.flush()
        codes = [i.result.code if i.result else INTERRUPTED_EXIT_CODE for i in self.inputs]
        if interrupted or INTERRUPTED_EXIT_CODE in codes:
            return INTERRUPTED_EXIT_CODE
        return max(codes)

    def _open_inputs(self, stack: contextlib.ExitStack) -> list[tuple[_Input, AudioFeed]]:
        """Open every input and read its first frame; a bad one is reported, the rest go on."""
        from flux_cli.audio import open_source

        settings = self.settings
        prepared = []
        for path, item in zip(self.sources, self.inputs, strict=True):
            try:
                source = open_source(
                    path,
                    raw=settings.raw if settings.raw.is_set else None,
                    channel=settings.channel,
                    stdin=self.env.stdin,
                    notice=_notice_to(self.screen.err, item.label),
                )
                stack.callback(source.close)
                these = replace(settings, source=path).at_input_rate(source.sample_rate)
                feed = build_feed(source, these)
            except FluxError as exc:
                item.result = JobResult(exc.exit_code, exc.message)
                self.screen.err(error_line(exc.message, self.secrets, item.label))
                continue
            item.duration_s = source.duration_s
            item.params = these.params
            prepared.append((item, feed))
        return prepared

    def _stream_jobs(
        self, prepared: list[tuple[_Input, AudioFeed]], stack: contextlib.ExitStack
    ) -> list[StreamJob]:
        """One session per opened input, each with its labelled lines, log and captions."""
        settings = self.settings
        base = server_base(settings, self.env, stack)
        jobs = []
        for item, feed in prepared:
            index = int(item.key)
            log = None
            if "jsonl" in self.files:
                log = JsonlLog(open_text(self.files["jsonl"][index], "--jsonl", stack))
            outputs: list[Output] = []
            if self.mode != "none":
                outputs.append(LabelledOutput(self.lines, item.label))
            for fmt in CAPTION_FORMATS:
                if fmt in self.files:
                    stream = open_text(self.files[fmt][index], f"--{fmt}", stack)
                    outputs.append(CaptionOutput(CaptionWriter(stream, fmt)))
            item.display = Display(outputs, log)
            jobs.append(
                StreamJob(
                    item.key,
                    stream_url(base, item.params or settings.params),
                    feed,
                    item.display,
                    api_key=settings.api_key if settings.url is not None else None,
                    force_end_turn=settings.force_end_turn,
                    reconnect=settings.reconnect,
                )
            )
        return jobs

    def _tick(self) -> None:
        progress = self.screen.progress
        if progress is None:
            return
        for item in self.inputs:
            if item.display is not None and item.result is None:
                state = item.display.state
                progress.update(item.key, state.audio_sent_s, len(state.turns))
        progress.refresh()

    def _done(self, key: str, result: JobResult) -> None:
        item = self.by_key[key]
        if result.code == 0 and self.stop_requested():  # ended early by Ctrl-C
            result = JobResult(INTERRUPTED_EXIT_CODE)
        item.result = result
        if item.display is not None:
            item.display.close()
        if result.message is not None:
            self.screen.err(error_line(result.message, self.secrets, item.label))
        progress = self.screen.progress
        if progress is not None and item.display is not None:
            state = item.display.state
            sent = None if result.code == 0 else state.audio_sent_s
            progress.finish(key, len(state.turns), _status(result.code), sent)


def _notice_to(err_line: Callable[[str], None], label: str) -> Callable[[str], None]:
    def notice(text: str) -> None:
        err_line(f"flux: {label}: {text}")

    return notice


def _isatty(stream: object) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty()) if callable(isatty) else False
    except (OSError, ValueError):
        return False


def _status(code: int) -> str:
    if code == 0:
        return "done"
    if code == INTERRUPTED_EXIT_CODE:
        return "interrupted"
    return f"failed (exit {code})"


def _summary(inputs: Sequence[_Input]) -> str:
    """``flux: 3 inputs: 2 done, 1 failed (b.wav exit 3) · 14 turns · 61.2 s of audio``."""
    done = [i for i in inputs if i.result is not None and i.result.code == 0]
    failed = [i for i in inputs if i.result is not None and i.result.code not in (0, 130)]
    stopped = len(inputs) - len(done) - len(failed)
    turns = [t for i in inputs if i.display is not None for t in i.display.state.turns]
    audio = sum(i.display.state.audio_sent_s for i in inputs if i.display is not None)
    parts = [f"{len(done)} done"]
    if failed:
        which = ", ".join(f"{i.label} exit {i.result.code}" for i in failed if i.result)
        parts.append(f"{len(failed)} failed ({which})")
    if stopped:
        parts.append(f"{stopped} interrupted")
    listed = ", ".join(parts)
    return end_of_run_line(turns, audio, prefix=f"{len(inputs)} inputs: {listed} · ")


