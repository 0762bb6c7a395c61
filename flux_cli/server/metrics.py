"""Prometheus metrics of the local server, and timing wrappers around its models.

One ``ServerMetrics`` per server owns its own registry (so several servers in one test
process never collide). With ``--workers N`` every worker writes to files in one directory
(prometheus_client's multiprocess mode, chosen by the parent through
``PROMETHEUS_MULTIPROC_DIR`` before it forks), and ``/metrics`` on any worker reports the sum
over all of them: one scrape of the port sees the whole server.

The decode and Smart Turn histograms come from wrapping the engine's transcriber and
end-of-turn model (``timed_engine``), so the turn session itself knows nothing of metrics.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from typing import Any

from flux_cli.engine.interfaces import Audio, Engine, SmartTurnModel, Transcriber, Transcript
from flux_cli.engine.languages import LanguageChoice

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

DECODE_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0, 1.5, 2.5, 5.0, 10.0)
SMART_TURN_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.35, 0.5, 1.0, 2.5)
EOT_DELAY_BUCKETS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0)
RTF_BUCKETS = (0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0)

OUTCOMES = (
    "completed", "disconnected", "error", "drained", "slow_client", "ping_timeout",
    "internal_error")
REFUSALS = ("capacity", "draining", "loading", "unauthorized", "bad_request", "not_found")


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


class ServerMetrics:
    """The counters, gauges and histograms ``/metrics`` serves."""

    def __init__(self) -> None:
        from prometheus_client import (
            CollectorRegistry,
            Counter,
            Gauge,
            Histogram,
            disable_created_metrics,
        )

        disable_created_metrics()  # the *_created series only double the output
        self.multiprocess = multiprocess_dir() is not None
        self.registry = CollectorRegistry(auto_describe=True)
        reg = self.registry
        self.active_streams = Gauge(
            "flux_active_streams", "Open /v2/listen streams.", registry=reg,
            multiprocess_mode="livesum")
        self.streams = Counter(
            "flux_streams", "Finished /v2/listen streams by outcome.", ["outcome"], registry=reg)
        self.refusals = Counter(
            "flux_refusals", "Handshakes refused, by reason.", ["reason"], registry=reg)
        self.audio_seconds = Counter(
            "flux_audio_seconds", "Seconds of audio received and decoded.", registry=reg)
        self.processing_seconds = Counter(
            "flux_processing_seconds",
            "Wall seconds the turn sessions spent on received audio (models included).",
            registry=reg)
        self.decode_seconds = Histogram(
            "flux_decode_seconds", "Whisper decode wall time per call.", registry=reg,
            buckets=DECODE_BUCKETS)
        self.smart_turn_seconds = Histogram(
            "flux_smart_turn_seconds", "Smart Turn wall time per call.", registry=reg,
            buckets=SMART_TURN_BUCKETS)
        self.end_of_turn_delay = Histogram(
            "flux_end_of_turn_delay_seconds",
            "Wall time from receiving the frame that holds a turn's last word to sending its "
            "EndOfTurn.", registry=reg, buckets=EOT_DELAY_BUCKETS)
        self.real_time_factor = Histogram(
            "flux_real_time_factor",
            "Per finished stream: processing seconds / audio seconds (below 1 keeps up).",
            registry=reg, buckets=RTF_BUCKETS)
        for outcome in OUTCOMES:
            self.streams.labels(outcome)
        for reason in REFUSALS:
            self.refusals.labels(reason)

    def exposition(self) -> tuple[bytes, str]:
        """The Prometheus text format: this process's registry, or every worker's files."""
        from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

        if self.multiprocess:
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return generate_latest(registry), CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


def mark_worker_dead(pid: int) -> None:
    """Drop a gone worker's live gauges from the multiprocess files (parent side)."""
    if multiprocess_dir() is None:
        return
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(pid)


class TimedTranscriber:
    """A transcriber that reports each decode's wall time."""

    def __init__(self, inner: Transcriber, histogram: Any) -> None:
        self.inner = inner
        self._histogram = histogram

    def transcribe(
        self,
        audio: Audio,
        *,
        offset_s: float,
        hotwords: Sequence[str] = (),
        languages: LanguageChoice | None = None,
    ) -> Transcript:
        start = time.perf_counter()
        try:
            return self.inner.transcribe(audio, offset_s=offset_s, hotwords=hotwords,
                                         languages=languages)
        finally:
            self._histogram.observe(time.perf_counter() - start)


class TimedSmartTurn:
    """An end-of-turn model that reports each call's wall time."""

    def __init__(self, inner: SmartTurnModel, histogram: Any) -> None:
        self.inner = inner
        self._histogram = histogram

    def predict(self, audio: Audio) -> float:
        start = time.perf_counter()
        try:
            return self.inner.predict(audio)
        finally:
            self._histogram.observe(time.perf_counter() - start)


def timed_engine(engine: Engine, metrics: ServerMetrics) -> Engine:
    """The same models, with their latency going to ``metrics``."""
    interim = engine.interim_transcriber or engine.transcriber
    return Engine(
        vad=engine.vad,
        transcriber=TimedTranscriber(engine.transcriber, metrics.decode_seconds),
        smart_turn=TimedSmartTurn(engine.smart_turn, metrics.smart_turn_seconds),
        interim_transcriber=TimedTranscriber(interim, metrics.decode_seconds),
        speaker=engine.speaker,
        voice_pauses=engine.voice_pauses,
        asr=engine.asr,
    )
