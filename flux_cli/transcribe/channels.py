"""``flux transcribe call.wav --multichannel``: each channel on its own concurrent connection.

A call recorded with the caller on one channel and the agent on the other is two
conversations' halves: Flux takes mono audio, so each channel gets its own stream, all at
once (``parallel``), and their turns are put back in audio-time order (``render.merge``)
and labelled with ``--channel-names`` (default ``ch0,ch1,...``): in the text/JSON lines,
as voice tags in captions, as a ``channel`` field on every JSONL record, and as one live
line per channel in the panel. A channel that fails is reported; the others go on.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, TextIO
from urllib.parse import urlsplit

from flux_cli.client.feed import AudioFeed
from flux_cli.client.parallel import JobResult, ParallelRun, StreamJob
from flux_cli.env import Env
from flux_cli.errors import INTERRUPTED_EXIT_CODE, UsageError, error_line
from flux_cli.render.captions import CaptionFormat, CaptionWriter
from flux_cli.render.display import Display
from flux_cli.render.jsonl import JsonlLog
from flux_cli.render.labelled import LabelledLines
from flux_cli.render.merge import TimeOrderMerger, bound_of
from flux_cli.render.state import Notice, Turn, ViewState
from flux_cli.render.summary import end_of_run_line
from flux_cli.transcribe.settings import TranscribeSettings, resolve_output, stream_url
from flux_cli.transcribe.setup import build_feed, check_outcome, open_log, open_text, server_base
from flux_cli.transcribe.targets import per_input_targets

if TYPE_CHECKING:
    from flux_cli.render.multilive import MultiLiveOutput

NAME = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")


def parse_names(text: str | None) -> list[str] | None:
    """``caller,agent`` into names (letters, digits, ``_.-``; distinct), or None for defaults."""
    if text is None:
        return None
    names = [n.strip() for n in text.split(",")]
    for name in names:
        if not NAME.match(name):
            raise UsageError(
                f"--channel-names: {name!r} is not a name (1-32 letters, digits, _ . -)"
            )
    if len(set(names)) != len(names):
        raise UsageError("--channel-names: each channel needs its own name")
    return names


class _Tap:
    """A channel's ``display.Output``: finished turns go to the merger, notices to stderr."""

    def __init__(self, run: _MultiRun, name: str) -> None:
        self.run = run
        self.name = name

    def update(self, state: ViewState, finished: Sequence[Turn], notices: Sequence[Notice]) -> None:
        for notice in notices:
            self.run.notice(self.name, notice)
        for turn in finished:
            self.run.merger.add(self.name, turn)
        self.run.release()

    def tick(self, state: ViewState) -> None:
        self.run.draw()

    def close(self, state: ViewState, finished: Sequence[Turn], notices: Sequence[Notice]) -> None:
        self.update(state, finished, notices)


class _MultiRun:
    """The merged outputs of all channels (main thread only)."""

    def __init__(self, names: list[str]) -> None:
        self.names = names
        self.displays: dict[str, Display] = {}
        self.done: set[str] = set()
        self.lines: LabelledLines | None = None
        self.captions: list[CaptionWriter] = []
        self.live: MultiLiveOutput | None = None
        self.merger = TimeOrderMerger(names, self.emit)
        self.env: Env | None = None
        self.secrets: list[str | None] = []  # API keys: never in an error line

    def states(self) -> dict[str, ViewState]:
        return {name: self.displays[name].state for name in self.names if name in self.displays}

    def emit(self, name: str, turn: Turn) -> None:
        if self.lines is not None:
            self.lines.turn(name, turn)
        for writer in self.captions:
            writer.write_turn(turn, name)
        if self.live is not None:
            self.live.turn(name, turn)

    def release(self) -> None:
        bounds = {
            name: bound_of(display.state, name in self.done)
            for name, display in self.displays.items()
        }
        self.merger.release(bounds)
        self.draw(force=True)

    def draw(self, force: bool = False) -> None:
        if self.live is not None:
            self.live.draw(self.states(), force)

    def finished(self, name: str, result: JobResult) -> None:
        """A channel's stream ended: its open turn is reported, the others may now pass it."""
        self.done.add(name)
        self.displays[name].close()
        if result.message is not None and self.env is not None:
            self.env.stderr.write(error_line(result.message, self.secrets, name) + "\n")
            self.env.stderr.flush()
        self.release()

    def close(self) -> None:
        """The run is over (or interrupted): everything held is shown, the panel stops."""
        for name in self.names:
            self.done.add(name)
            if name in self.displays:
                self.displays[name].close()
        self.merger.flush()
        if self.live is not None:
            self.live.close(self.states())

    def notice(self, name: str, notice: Notice) -> None:
        if notice.kind != "error" and self.env is not None:
            self.env.stderr.write(f"flux: {name}: {notice.kind}: {notice.text}\n")
            self.env.stderr.flush()


def _summary(multi: _MultiRun, env: Env) -> None:
    """One line per channel, then none for the whole: each channel is its own stream."""
    for name, state in multi.states().items():
        line = end_of_run_line(state.turns, state.audio_sent_s, prefix=f"{name}: ")
        env.stderr.write(line + "\n")
    env.stderr.flush()


def _writer(stream: TextIO) -> Callable[[str], None]:
    def write(line: str) -> None:
        stream.write(line + "\n")
        stream.flush()

    return write


def _channel_count(settings: TranscribeSettings) -> int:
    from flux_cli.audio import open_source

    with open_source(settings.source, raw=settings.raw if settings.raw.is_set else None) as source:
        return int(source.channels)


def checked_names(settings: TranscribeSettings, names: list[str] | None) -> list[str]:
    """The channel names, after refusing what --multichannel cannot do (before connecting)."""
    if settings.source == "-":
        raise UsageError("--multichannel needs a file: stdin can be read only once")
    if settings.channel is not None:
        raise UsageError("--channel picks one channel; --multichannel streams them all")
    if settings.params.encoding == "ogg-opus":
        raise UsageError("--multichannel sends each channel as PCM; drop --encoding ogg-opus")
    count = _channel_count(settings)
    if count < 2:
        raise UsageError(f"{settings.source} has 1 channel; --multichannel needs 2 or more")
    names = names or [f"ch{i}" for i in range(count)]
    if len(names) != count:
        raise UsageError(
            f"--channel-names gives {len(names)} name{'s' if len(names) != 1 else ''}; "
            f"{settings.source} has {count} channels"
        )
    return names


def _open_feeds(
    settings: TranscribeSettings, count: int, stack: contextlib.ExitStack
) -> tuple[list[AudioFeed], float | None, TranscribeSettings]:
    """One feed per channel, each from its own reader of the file; the settings at the
    file's rate (every channel shares it, so every stream goes at the same wire rate)."""
    from flux_cli.audio import open_source

    feeds: list[AudioFeed] = []
    duration = None
    for i in range(count):
        raw = settings.raw if settings.raw.is_set else None
        source = open_source(settings.source, raw=raw, channel=i)
        stack.callback(source.close)
        duration = source.duration_s
        settings = settings.at_input_rate(source.sample_rate)
        feeds.append(build_feed(source, replace(settings, channel=i)))
    return feeds, duration, settings


def _live_output(
    settings: TranscribeSettings, url: str, duration: float | None, env: Env
) -> MultiLiveOutput:
    from flux_cli.render.live import PanelInfo
    from flux_cli.render.multilive import MultiLiveOutput

    info = PanelInfo(
        host=urlsplit(url).netloc,
        source=settings.source,
        duration_s=duration,
        eot_threshold=settings.params.effective_eot_threshold,
        eager_eot_threshold=settings.params.eager_eot_threshold,
    )
    return MultiLiveOutput.on_stream(env.stdout, info)


def run(settings: TranscribeSettings, names: list[str] | None, env: Env) -> int:
    """Stream every channel of one input; the exit code is the worst channel's."""
    settings.validate()
    settings = per_input_targets(settings)
    names = checked_names(settings, names)
    multi = _MultiRun(names)
    multi.env = env
    multi.secrets = [settings.api_key]
    mode = resolve_output(settings.output, settings.jsonl, env.stdout_isatty)
    with contextlib.ExitStack() as stack:
        shared_log = open_log(settings.jsonl, env, stack)
        targets: list[tuple[str | None, CaptionFormat]] = [
            (settings.srt, "srt"),
            (settings.vtt, "vtt"),
        ]
        for path, fmt in targets:
            if path is not None:
                multi.captions.append(CaptionWriter(open_text(path, f"--{fmt}", stack), fmt))
        feeds, duration, settings = _open_feeds(settings, len(names), stack)
        base = server_base(settings, env, stack)
        url = stream_url(base, settings.params)
        if mode in ("text", "json"):
            multi.lines = LabelledLines(
                _writer(env.stdout), _writer(env.stderr), field="channel", as_json=mode == "json"
            )
        elif mode == "live":
            multi.live = _live_output(settings, url, duration, env)
        jobs = []
        for name, feed in zip(names, feeds, strict=True):
            log = None
            if shared_log is not None:
                log = JsonlLog(shared_log.stream, extra={"channel": name})
            multi.displays[name] = Display([_Tap(multi, name)], log)
            jobs.append(
                StreamJob(
                    name,
                    url,
                    feed,
                    multi.displays[name],
                    api_key=settings.api_key if settings.url is not None else None,
                    force_end_turn=settings.force_end_turn,
                    reconnect=settings.reconnect,
                )
            )
        runner = ParallelRun(
            jobs, len(jobs), check=check_outcome, on_tick=multi.draw, on_done=multi.finished
        )
        try:
            final = runner.run()
        finally:
            multi.close()
            if mode in ("live", "text"):
                _summary(multi, env)
    codes = [r.code for r in final.values()]
    if runner.stop.is_set() or INTERRUPTED_EXIT_CODE in codes:
        return INTERRUPTED_EXIT_CODE
    return max(codes, default=0)
