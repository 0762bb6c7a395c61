"""Ways the benchmark streams audio: the real CLI in a subprocess, or the client library in-process.

The CLI (``python -m flux_cli transcribe --jsonl``) is what users run, so accuracy and client
overhead are measured through it. Real-time wall-clock latency needs to know when each frame
left, which the JSONL log does not say, so those runs drive ``flux_cli.client.shell.Session``
directly with a feed that records its own send schedule.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import psutil
import soundfile as sf

from benchmarks.scoring import Event

FRAME_SAMPLES = 1280  # 80 ms at 16 kHz, the size the protocol recommends
SAMPLE_RATE = 16000


@dataclass
class Monitored:
    """A finished subprocess with its CPU time and memory over time."""

    returncode: int
    wall_s: float
    cpu_s: float
    peak_rss: int
    rss_samples: list[tuple[float, float]] = field(default_factory=list)
    cpu_samples: list[tuple[float, float]] = field(default_factory=list)
    stderr: str = ""


def run_monitored(cmd: list[str], stderr_path: Path, interval: float = 0.25,
                  timeout: float | None = None) -> Monitored:
    """Run ``cmd``, sampling its RSS and CPU every ``interval`` s.

    The total CPU comes from the kernel's account of the waited child (getrusage), so it is
    exact however short the run; call this from one thread at a time.
    """
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    with stderr_path.open("wb") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, env=env)
        ps = psutil.Process(proc.pid)
        samples: list[tuple[float, float]] = []
        cpu_samples: list[tuple[float, float]] = []
        cpu = 0.0
        while proc.poll() is None:
            try:
                with ps.oneshot():
                    rss = ps.memory_info().rss
                    times = ps.cpu_times()
                samples.append((time.monotonic() - start, float(rss)))
                cpu = float(times.user + times.system)
                cpu_samples.append((time.monotonic() - start, cpu))
            except psutil.Error:
                break
            if timeout is not None and time.monotonic() - start > timeout:
                proc.kill()
            time.sleep(interval)
        proc.wait()
    wall = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = max(cpu, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))
    return Monitored(proc.returncode, wall, cpu, int(max((r for _t, r in samples), default=0)),
                     samples, cpu_samples, stderr_path.read_text(errors="replace"))


def cli_command(url: str, wav: Path, jsonl: Path | None, *, fast: bool = True,
                speed: float | None = None, options: dict[str, str] | None = None) -> list[str]:
    """``python -m flux_cli transcribe`` as a user would type it."""
    cmd = [sys.executable, "-m", "flux_cli", "transcribe", str(wav), "--url", url,
           "--output", "text"]
    if jsonl is not None:
        cmd += ["--jsonl", str(jsonl)]
    if fast:
        cmd.append("--fast")
    elif speed is not None:
        cmd += ["--speed", f"{speed:g}"]
    for key, value in (options or {}).items():
        cmd += [f"--{key.replace('_', '-')}", value]
    return cmd


# --------------------------------------------------------------------------- in-process


@dataclass
class RealtimeRun:
    """A paced stream: the events, when each arrived, and when each frame was sent."""

    events: list[Event]  # ``received`` is monotonic, the clock of ``sent``
    received: list[float]  # monotonic receive time of each event
    sent: list[float]  # monotonic send time of each frame
    audio_s: float
    error: str | None = None

    def sent_at(self, audio_s: float) -> float | None:
        """Send time of the frame that holds audio time ``audio_s``."""
        index = int(audio_s * SAMPLE_RATE) // FRAME_SAMPLES
        return self.sent[index] if 0 <= index < len(self.sent) else None


def _pcm_frames(path: Path) -> list[bytes]:
    audio, rate = sf.read(path, dtype="float32")
    if rate != SAMPLE_RATE or audio.ndim != 1:
        raise ValueError(f"{path}: expected 16 kHz mono")
    pcm = (np.clip(audio, -1.0, 1.0) * 32767).astype("<i2")
    return [pcm[i: i + FRAME_SAMPLES].tobytes() for i in range(0, len(pcm), FRAME_SAMPLES)]


def stream_realtime(url: str, wav: Path, query: str, speed: float = 1.0) -> RealtimeRun:
    """Send ``wav`` at ``speed`` times real time through the client library; record timing."""
    from flux_cli.client import events as ev
    from flux_cli.client.feed import AudioFeed
    from flux_cli.client.shell import Session
    from flux_cli.protocol import TurnInfo

    frames = _pcm_frames(wav)
    sent: list[float] = []
    events: list[Event] = []
    received: list[float] = []
    t0: list[float] = []

    def pace(index: int) -> None:
        if not t0:
            t0.append(time.monotonic())
        due = t0[0] + index * FRAME_SAMPLES / SAMPLE_RATE / speed
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        sent.append(time.monotonic())

    class Listener:
        def on_connected(self, info: ev.ConnectionInfo) -> None:
            pass

        def on_message(self, got: ev.Received) -> None:
            now = time.monotonic()
            m = got.message
            if isinstance(m, TurnInfo):
                events.append(Event(m.event, m.turn_index, m.audio_window_start,
                                    m.audio_window_end, m.transcript,
                                    m.end_of_turn_confidence, m.trigger, now))
                received.append(now)

        def on_progress(self, progress: ev.Progress) -> None:
            pass

        def on_reconnect(self, event: ev.Reconnect) -> None:
            pass

    def feed() -> Iterator[bytes]:
        yield from frames

    session = Session(f"{url}?{query}",
                             AudioFeed(feed(), bytes_per_second=SAMPLE_RATE * 2, pace=pace),
                             Listener())
    error = None
    try:
        outcome = session.run()
        if outcome.error is not None:
            error = f"{outcome.error.code}: {outcome.error.description}"
    except Exception as exc:  # one failed stream is reported, not fatal to the benchmark
        error = f"{type(exc).__name__}: {exc}"
    return RealtimeRun(events, received, sent, len(frames) * FRAME_SAMPLES / SAMPLE_RATE, error)


def stream_many(url: str, wavs: list[Path], query: str) -> list[RealtimeRun]:
    """Several real-time streams at once, one thread each (the client's work is mostly waiting)."""
    results: list[RealtimeRun | None] = [None] * len(wavs)

    def one(i: int) -> None:
        results[i] = stream_realtime(url, wavs[i], query)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(wavs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return [r for r in results if r is not None]
