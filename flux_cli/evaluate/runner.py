"""Stream the calls to a server and keep each stream's ``TurnInfo`` messages.

Every (call, threshold) pair is one stream, run through ``parallel.ParallelRun`` so that
``--jobs`` streams go at once, Ctrl-C closes them all cleanly, and a stream that fails
costs that stream only. Only the speaker's channel is sent, as a voice agent's STT would
hear it; with labels (mono) the whole recording is.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from flux_cli.client.events import ConnectionInfo, Progress, Received, Reconnect
from flux_cli.client.feed import AudioFeed
from flux_cli.client.parallel import JobResult, ParallelRun, StreamJob
from flux_cli.errors import FluxError
from flux_cli.evaluate.events import TurnEvent
from flux_cli.protocol import StreamParams, TurnInfo
from flux_cli.transcribe.settings import TranscribeSettings, stream_url


@dataclass
class Collector:
    """A stream's listener: every ``TurnInfo`` as a ``TurnEvent``, and how far it got."""

    events: list[TurnEvent] = field(default_factory=list)
    sent_s: float = 0.0
    request_id: str | None = None

    def on_connected(self, info: ConnectionInfo) -> None:
        self.request_id = info.request_id

    def on_message(self, received: Received) -> None:
        if isinstance(received.message, TurnInfo):
            event = TurnEvent.from_dict(received.message.to_dict())
            if event is not None:
                self.events.append(event)

    def on_progress(self, progress: Progress) -> None:
        self.sent_s = progress.audio_sent_s

    def on_reconnect(self, event: Reconnect) -> None:
        pass


@dataclass(frozen=True)
class Stream:
    """One stream to run: a call, the channel to send, and the threshold to ask for."""

    call: str
    channel: int | None
    threshold: float | None

    @property
    def key(self) -> str:
        return f"{self.call}\0{self.threshold}"


@dataclass
class StreamResult:
    stream: Stream
    collector: Collector
    result: JobResult | None = None
    duration_s: float = 0.0

    @property
    def finished(self) -> bool:
        """The whole call was sent and the stream ended cleanly (Ctrl-C ends feeds early)."""
        whole = self.collector.sent_s >= self.duration_s - 0.25
        return self.result is not None and self.result.code == 0 and whole


@dataclass
class Server:
    """Where to send: a base URL (the local engine's, once started), a key, stream options."""

    url: str
    params: StreamParams
    api_key: str | None = field(default=None, repr=False)
    speed: float = 1.0
    reconnect: int = 3


def _feed_for(stream: Stream, server: Server, threshold: float | None,
              stack: contextlib.ExitStack) -> tuple[AudioFeed, float, StreamParams]:
    """The stream's frames, its length, and its parameters (the wire rate is the call's,
    as ``flux transcribe`` picks it without ``--sample-rate``)."""
    from flux_cli.audio import open_source
    from flux_cli.transcribe.setup import build_feed

    source = open_source(stream.call, channel=stream.channel)
    stack.callback(source.close)
    params = replace(server.params, eot_threshold=threshold)
    settings = TranscribeSettings(source=stream.call, params=params, speed=server.speed,
                                  sample_rate_given=False).at_input_rate(source.sample_rate)
    return build_feed(source, settings), float(source.duration_s or 0.0), settings.params


def run_streams(
    streams: Sequence[Stream],
    server: Server,
    jobs: int,
    *,
    on_error: Callable[[Stream, str], None],
    on_tick: Callable[[Sequence[StreamResult]], None] | None = None,
    on_done: Callable[[StreamResult], None] | None = None,
    stack: contextlib.ExitStack,
) -> tuple[list[StreamResult], bool]:
    """Run every stream; the results (finished or not) and whether Ctrl-C stopped the run."""
    results: dict[str, StreamResult] = {}
    stream_jobs: list[StreamJob] = []
    for stream in streams:
        collector = Collector()
        item = StreamResult(stream, collector)
        results[stream.key] = item
        try:
            feed, item.duration_s, params = _feed_for(stream, server, stream.threshold, stack)
        except FluxError as exc:
            item.result = JobResult(exc.exit_code, exc.message)
            on_error(stream, exc.message)
            continue
        stream_jobs.append(StreamJob(
            stream.key, stream_url(server.url, params), feed, collector,
            api_key=server.api_key, reconnect=server.reconnect,
        ))

    def done(key: str, result: JobResult) -> None:
        item = results[key]
        item.result = result
        if result.message is not None:
            on_error(item.stream, result.message)
        if on_done is not None:
            on_done(item)

    def tick() -> None:
        if on_tick is not None:
            on_tick(list(results.values()))

    from flux_cli.transcribe.setup import check_outcome

    runner = ParallelRun(stream_jobs, jobs, check=check_outcome, on_tick=tick, on_done=done)
    finished = runner.run() if stream_jobs else {}
    for key, result in finished.items():
        if results[key].result is None:
            results[key].result = result
    return list(results.values()), runner.stop.is_set()
