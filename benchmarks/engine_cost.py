"""``python -m benchmarks.engine_cost``: where one stream's CPU goes, stage by stage.

Two measurements per pacing (``realtime``: a listener who is live, so interim text is due;
``fast``: a client sending faster than real time, so it is not):

1. **Stages** (a replay in this process, one thing at a time; ``voices``: the call's voices'
   embeddings, ``voice_profiles.py``): each clip's audio goes
   through a ``TurnSession`` with the real models, interim jobs run when the session says
   they are due (``realtime``) or never (``fast``), as the server does. Every model call is
   metered by this process's CPU time around it (``getrusage``; the call is the only work in
   flight), so the split is CPU, not wall time, and holds on a busy machine.
2. **Whole server**: the real engine serves in this process (``flux_cli.server.app.serve``)
   and a separate ``flux transcribe`` process streams each clip at ``--speed 1`` or
   ``--fast``; this process's CPU per audio second is the server's total, websocket and JSON
   included (``rest`` = total minus the replay's stages).

It also records every EndOfTurn (audio time and transcript) of both, so a change that
claims "same turns" can be checked against the JSON.

Results: ``benchmarks/results/engine_cost.json`` and ``engine_cost.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from benchmarks import corpus, report

RESULTS = Path(__file__).with_name("results")
_T = TypeVar("_T")
STAGES = ("vad", "interim_asr", "final_asr", "smart_turn", "voices", "session", "rest")


@dataclass
class Meter:
    """Calls and wall seconds per stage (thread-safe: model calls run in worker threads)."""

    calls: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    audio_s: dict[str, float] = field(default_factory=dict)  # audio decoded, per ASR stage
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, stage: str, took: float, audio_s: float = 0.0) -> None:
        """``took``: CPU seconds (replay) or wall seconds (server), by the caller's clock."""
        with self.lock:
            self.calls[stage] = self.calls.get(stage, 0) + 1
            self.seconds[stage] = self.seconds.get(stage, 0.0) + took
            self.audio_s[stage] = self.audio_s.get(stage, 0.0) + audio_s


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class _Timed:
    """Wraps one model method so each call is metered under ``stage`` by ``clock``."""

    def __init__(self, inner: Any, meter: Meter, stage: str, clock: Any = _cpu) -> None:
        self._inner, self._meter, self._stage, self._clock = inner, meter, stage, clock

    def _metered(self, call: Callable[[], _T], audio_s: float = 0.0) -> _T:
        start = self._clock()
        try:
            return call()
        finally:
            self._meter.add(self._stage, self._clock() - start, audio_s)

    def transcribe(self, audio: Any, *, offset_s: float, hotwords: Sequence[str] = (),
                   languages: Any = None) -> Any:
        return self._metered(lambda: self._inner.transcribe(
            audio, offset_s=offset_s, hotwords=hotwords, languages=languages), len(audio) / 16000)

    def predict(self, audio: Any) -> float:
        return self._metered(lambda: float(self._inner.predict(audio)))

    def process(self, samples: Any) -> list[float]:
        return self._metered(lambda: list(self._inner.process(samples)))

    def voice_vector(self, audio: Any) -> Any:
        return self._metered(lambda: self._inner.voice_vector(audio))

    def embed(self, audio: Any) -> Any:
        return self._metered(lambda: self._inner.embed(audio))

    def similarity(self, before: Any, after: Any) -> float:
        return self._metered(lambda: float(self._inner.similarity(before, after)))

    def new_stream(self) -> _Timed:
        return _Timed(self._inner.new_stream(), self._meter, self._stage, self._clock)


def metered_engine(engine: Any, meter: Meter, clock: Any = _cpu) -> Any:
    from flux_cli.engine.interfaces import Engine

    return Engine(
        vad=_Timed(engine.vad, meter, "vad", clock),
        transcriber=_Timed(engine.transcriber, meter, "final_asr", clock),
        smart_turn=_Timed(engine.smart_turn, meter, "smart_turn", clock),
        interim_transcriber=_Timed(engine.transcriber, meter, "interim_asr", clock),
        speaker=None if engine.speaker is None else _Timed(engine.speaker, meter, "voices",
                                                           clock),
        voice_pauses=engine.voice_pauses,
    )


def replay(engine: Any, clips: list[corpus.Call], live: bool) -> dict[str, Any]:
    """Each clip through a ``TurnSession`` as the server drives it; CPU per stage."""
    import soundfile as sf

    from flux_cli.engine.session import TurnSession
    from flux_cli.protocol import StreamParams, TurnInfo

    meter = Meter()
    metered = metered_engine(engine, meter)
    total = audio_s = 0.0
    turns: dict[str, Any] = {}
    for clip in clips:
        audio, _ = sf.read(clip.path, dtype="float32")
        session = TurnSession(vad=metered.vad.new_stream(), transcriber=metered.transcriber,
                              smart_turn=metered.smart_turn, params=StreamParams(),
                              request_id="cost", sync_interim=False,
                              interim_transcriber=metered.interim_transcriber,
                              speaker=metered.speaker, voice_pauses=metered.voice_pauses)
        start = _cpu()
        out = list(session.start())
        for pos in range(0, len(audio), 1280):
            out += session.feed(audio[pos: pos + 1280])
            job = session.interim_job() if live else None
            if job is not None:
                session.apply_interim(job, job.run())
        out += session.close()
        total += _cpu() - start
        audio_s += len(audio) / 16000
        turns[clip.name] = [(round(m.audio_window_end, 3), m.transcript) for m in out
                            if isinstance(m, TurnInfo) and m.event == "EndOfTurn"]
    stages = {k: meter.seconds.get(k, 0.0) / audio_s
              for k in ("vad", "interim_asr", "final_asr", "smart_turn", "voices")}
    stages["session"] = max(0.0, total - sum(meter.seconds.values())) / audio_s
    return {"cpu_per_audio_s": total / audio_s, "stage_cpu_per_audio_s": stages,
            "calls": dict(meter.calls), "decoded_audio_s": dict(meter.audio_s),
            "end_of_turns": turns}


async def _stream(port: int, path: Path, fast: bool) -> list[dict[str, Any]]:
    pace = ["--fast"] if fast else ["--speed", "1"]
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "flux_cli", "transcribe", str(path),
        "--url", f"ws://127.0.0.1:{port}", "--output", "json", *pace,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    out, err = await proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"client failed ({proc.returncode}): {err.decode()[-400:]}")
    return [json.loads(line) for line in out.decode().splitlines() if line.strip()]


async def run_server(engine: Any, clips: list[corpus.Call], fast: bool) -> dict[str, Any]:
    from flux_cli.server.app import serve, server_port

    meter = Meter()
    server = await serve(host="127.0.0.1", port=0,
                         engine=metered_engine(engine, meter, time.perf_counter))
    port = server_port(server)
    turns: dict[str, Any] = {}
    audio_s = 0.0
    cpu0, wall0 = _cpu(), time.perf_counter()
    try:
        for clip in clips:
            got = await _stream(port, clip.path, fast)
            turns[clip.name] = [(t["end"], t["transcript"]) for t in got if t.get("finished")]
            audio_s += clip.duration
    finally:
        server.close()
        await server.wait_closed()
    cpu, wall = _cpu() - cpu0, time.perf_counter() - wall0
    return {
        "audio_s": audio_s,
        "wall_s": wall,
        "cpu_per_audio_s": cpu / audio_s,
        "speed_x": audio_s / wall,
        "calls": dict(meter.calls),
        "decoded_audio_s": dict(meter.audio_s),
        "end_of_turns": turns,
    }


def table(results: dict[str, Any]) -> str:
    head = ("| pacing | server CPU per audio s | speed | "
            + " | ".join(STAGES)
            + " | interim decodes | final decodes | Smart Turn calls | voice embeddings |")
    rows = [head, "|" + "---|" * (head.count("|") - 1)]
    for m in results["modes"]:
        stages = dict(m["replay"]["stage_cpu_per_audio_s"])
        stages["rest"] = max(0.0, m["server"]["cpu_per_audio_s"] - sum(stages.values()))
        cells = " | ".join(f"{stages[s] * 1000:.1f} ms" for s in STAGES)
        calls, decoded = m["replay"]["calls"], m["replay"]["decoded_audio_s"]
        rows.append(
            f"| {m['mode']} | {m['server']['cpu_per_audio_s']:.3f} | "
            f"{m['server']['speed_x']:.1f}x | {cells} | {calls.get('interim_asr', 0)} "
            f"({decoded.get('interim_asr', 0.0):.0f} s) | "
            f"{calls.get('final_asr', 0)} ({decoded.get('final_asr', 0.0):.0f} s) | "
            f"{calls.get('smart_turn', 0)} | {calls.get('voices', 0)} |"
        )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--clips", type=int, default=3)
    p.add_argument("--clip-seconds", type=float, default=45.0)
    p.add_argument("--modes", default="realtime,fast")
    p.add_argument("--out", default="engine_cost")
    args = p.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from flux_cli.engine.models.loader import load_engine

    calls = corpus.build("full")
    work = corpus.DEFAULT_CACHE / corpus.cache_name(corpus.DEFAULT_SEED, "full")
    clips = [corpus.clip(c, args.clip_seconds, work) for c in calls[: args.clips]]
    engine = load_engine()
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    results: dict[str, Any] = {
        "command": "python -m benchmarks.engine_cost " + " ".join(argv or sys.argv[1:]),
        "machine": f"{platform.machine()} ({report.vector_units()}), {os.cpu_count()} cores, "
                   f"Python {platform.python_version()}",
        "load_avg_start": os.getloadavg(),
        "clips": [c.name for c in clips],
        "modes": [],
    }
    for mode in modes:
        fast = mode == "fast"
        result = {"mode": mode, "replay": replay(engine, clips, live=not fast),
                  "server": asyncio.run(run_server(engine, clips, fast))}
        results["modes"].append(result)
        print(f"[engine_cost] {mode}: server {result['server']['cpu_per_audio_s']:.3f}, "
              f"replay {result['replay']['cpu_per_audio_s']:.3f} CPU s per audio s",
              file=sys.stderr, flush=True)
    results["load_avg_end"] = os.getloadavg()
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{args.out}.json").write_text(json.dumps(results, indent=1) + "\n")
    md = (
        f"# Engine cost per stream\n\n`{results['command']}` on {results['machine']}; "
        f"{len(clips)} clips of {args.clip_seconds:.0f} s, one stream at a time; load average "
        f"{results['load_avg_start'][0]:.1f} at start, {results['load_avg_end'][0]:.1f} at end "
        "(shared machine: compare ratios from one run).\n\n"
        "Per second of audio: the whole server's CPU (websocket and JSON included), and the "
        "CPU of each stage from the replay; `rest` is the server's total minus the stages.\n\n"
        + table(results) + "\n"
    )
    (RESULTS / f"{args.out}.md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()
