"""``python -m benchmarks.phone_offset``: what G.711's DC offset costs phone calls, and what the
8 kHz path's blocker (``flux_cli/audio/dc_block.py``) gives back.

Why: ``tel8k`` (real and neural calls through the phone band, sent as µ-law at 8 kHz) missed a
third of its turn ends end to end but a tenth in-process: the reference G.711 rounding leaves
a constant offset, and Silero VAD v6 hears it in phone-band speech (``docs/TURNS.md``, "Phone
lines"). Two parts:

1. **At the VAD** (``tel8k`` *train* calls; the full-band ``real``, ``neural``, ``synthetic``
   and ``noisy10`` train calls for contrast): the turns whose speech probability reaches the
   engine's onset, and the share of 32 ms windows called speech, for the same audio arriving
   as µ-law or A-law at 8 kHz (decoded with and without the blocker), as the WAV or a
   G.711-coded recording sent at 8 kHz (what the CLI sends by default since stop 35), and
   as either resampled to 16 kHz (the CLI's default before, still ``--sample-rate 16000``:
   the coded recording keeps its offset there, the case the blocker does not reach).
   For the full-band sets, also the offset removed at 16 kHz: what a blocker on every stream
   would change there.
2. **End to end** (``tel8k`` *test* calls through ``flux serve`` and the CLI at ``--fast``):
   missed ends, false cut-offs, latency and WER when the calls are sent as µ-law at 8 kHz,
   and as the WAV and as a G.711-coded recording each two ways: at the CLI's default (their
   own 8 kHz, linear16) and at ``--sample-rate 16000`` (the default before stop 35).

Nothing is tuned here. Writes ``results/phone_offset.{json,md}``.
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import corpus, report, scoring
from benchmarks.corpus import Call
from benchmarks.eot_train import set_calls
from benchmarks.run import engine_pass, summarise
from benchmarks.servers import EngineServer
from flux_cli.engine.interfaces import SAMPLE_RATE, VAD_WINDOW

RESULTS = Path(__file__).with_name("results")
PHONE_RATE = 8000
FULL_BAND = ("real", "neural", "synthetic", "noisy10")
FULL_BAND_OFFSET = 1e-3
WINDOWS_PER_S = SAMPLE_RATE / VAD_WINDOW


def g711(audio: np.ndarray, encoding: str) -> np.ndarray:
    """``audio`` (8 kHz) through a G.711 codec and back, as a phone system leaves it."""
    from flux_cli.audio.encoding import decode, encode

    return decode(encode(audio, encoding), encoding)


def wire_16k(audio: np.ndarray, encoding: str, *, blocker: bool) -> np.ndarray:
    """8 kHz ``audio`` sent as ``encoding`` and decoded by the engine's wire decoder (or the
    same decode and resampler without the blocker), in the 20 ms frames a phone system sends."""
    from flux_cli.audio.encoding import decode, encode
    from flux_cli.audio.resample import StreamResampler
    from flux_cli.server.wire_audio import make_decoder

    data = encode(audio, encoding)
    frame = PHONE_RATE // 50
    if blocker:
        decoder = make_decoder(encoding, PHONE_RATE)
        parts = [decoder.feed(data[i:i + frame]) for i in range(0, len(data), frame)]
        return np.concatenate([*parts, decoder.flush()])
    resampler = StreamResampler(PHONE_RATE, SAMPLE_RATE)
    parts = [resampler.process(decode(data[i:i + frame], encoding))
             for i in range(0, len(data), frame)]
    return np.concatenate([*parts, resampler.flush()])


def to_16k(audio: np.ndarray, rate: int) -> np.ndarray:
    import soxr

    if rate == SAMPLE_RATE:
        return audio
    return np.asarray(soxr.resample(audio, rate, SAMPLE_RATE), dtype=np.float32)


def heard(probs: np.ndarray, turns: list[Any], onset: float) -> tuple[int, int]:
    """(turns whose speech probability reaches ``onset`` somewhere inside them, speech windows)."""
    reached = 0
    for turn in turns:
        inside = probs[int(turn.start * WINDOWS_PER_S): int(turn.end * WINDOWS_PER_S) + 1]
        reached += bool(inside.size) and float(inside.max()) >= onset
    return reached, int(np.sum(probs >= onset))


Variant = Callable[[np.ndarray, int], np.ndarray]

PHONE_VARIANTS: dict[str, Variant] = {
    "µ-law at 8 kHz, offset kept (before)": lambda a, r: wire_16k(a, "mulaw", blocker=False),
    "µ-law at 8 kHz, the engine's decoder (now)": lambda a, r: wire_16k(a, "mulaw", blocker=True),
    "A-law at 8 kHz, offset kept (before)": lambda a, r: wire_16k(a, "alaw", blocker=False),
    "A-law at 8 kHz, the engine's decoder (now)": lambda a, r: wire_16k(a, "alaw", blocker=True),
    "the WAV at 16 kHz (`--sample-rate 16000`; no codec)": lambda a, r: to_16k(a, r),
    "a µ-law recording sent at 16 kHz (offset kept)": lambda a, r: to_16k(g711(a, "mulaw"), r),
    "the WAV at 8 kHz (the CLI's default now)":
        lambda a, r: wire_16k(a, "linear16", blocker=True),
    "a µ-law recording at 8 kHz (the CLI's default now)":
        lambda a, r: wire_16k(g711(a, "mulaw"), "linear16", blocker=True),
}
FULL_BAND_VARIANTS: dict[str, Variant] = {
    "as recorded": lambda a, r: to_16k(a, r),
    "its offset removed (a blocker at 16 kHz)": lambda a, r: unbiased_16k(a, r),
    f"{FULL_BAND_OFFSET:g} added": lambda a, r: to_16k(a, r) + np.float32(FULL_BAND_OFFSET),
}


def unbiased_16k(audio: np.ndarray, rate: int) -> np.ndarray:
    """What removing the offset from every stream would give (the blocker is built only for
    8 kHz streams today)."""
    from flux_cli.audio.dc_block import DcBlocker

    return DcBlocker(SAMPLE_RATE).process(to_16k(audio, rate))


def at_the_vad(sets: dict[str, list[Call]], variants: dict[str, Variant]) -> dict[str, Any]:
    import soundfile as sf

    from flux_cli.engine.detector import DEFAULT_CONFIG
    from flux_cli.engine.models.loader import load_engine

    vad = load_engine(asr_threads=1, asr_workers=1).vad
    onset = DEFAULT_CONFIG.vad_onset
    out: dict[str, Any] = {}
    for name, calls in sets.items():
        rows = {v: {"turns": 0, "reached": 0, "windows": 0, "speech_windows": 0}
                for v in variants}
        for call in calls:
            audio, rate = sf.read(call.path, dtype="float32")
            for label, make in variants.items():
                x = np.asarray(make(audio, rate), dtype=np.float32)
                probs = np.asarray(vad.new_stream().process(x))  # whole windows only
                reached, speech = heard(probs, call.turns, onset)
                row = rows[label]
                row["turns"] += len(call.turns)
                row["reached"] += reached
                row["windows"] += probs.size
                row["speech_windows"] += speech
        out[name] = rows
    return out


def coded_recordings(calls: list[Call], work: Path) -> list[Call]:
    """Each call as a phone system would have stored it: µ-law-coded, written as 8 kHz PCM
    (the decoded codes are whole int16 values, so PCM_16 keeps them exactly)."""
    import soundfile as sf

    out = []
    for call in calls:
        audio, rate = sf.read(call.path, dtype="float32")
        assert rate == PHONE_RATE, call.path
        path = work / f"coded-{call.path.name}"
        sf.write(path, g711(audio, "mulaw"), PHONE_RATE, subtype="PCM_16")
        out.append(dataclasses.replace(call, path=path))
    return out


def end_to_end(calls: list[Call], slack: float) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="flux-phone-") as tmp:
        work = Path(tmp)
        coded = coded_recordings(calls, work)
        ways: list[tuple[str, list[Call], dict[str, str]]] = [
            ("µ-law at 8 kHz (now: the blocker)", calls,
             {"sample_rate": "8000", "encoding": "mulaw"}),
            ("the WAV at the CLI's default (its own 8 kHz, linear16)", calls, {}),
            ("the WAV at `--sample-rate 16000` (the default before)", calls,
             {"sample_rate": "16000"}),
            ("a µ-law recording at the CLI's default (its own 8 kHz)", coded, {}),
            ("the same recording at `--sample-rate 16000` (the default before)", coded,
             {"sample_rate": "16000"}),
        ]
        with EngineServer(work / "server.log") as server:
            for i, (label, these, options) in enumerate(ways):
                res = engine_pass(server, these, work, f"way{i}", options, slack)
                row = summarise(res.score)
                row.update({"wer": res.wer[0], "failures": res.failures, "options": options})
                out[label] = row
    return out


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.1%}"


def _ms(x: float | None) -> str:
    return "-" if x is None else f"{x * 1000:.0f} ms"


def markdown(result: dict[str, Any]) -> str:
    m = result["machine"]
    lines = ["# What G.711's offset costs phone calls (`python -m benchmarks.phone_offset`)", "",
             f"On {m.get('cpu', '?')} ({m.get('cores', '?')} cores), at "
             f"{m.get('git_commit', '?')}. Why and what the engine does: `docs/TURNS.md`, "
             "\"Phone lines: the codec's offset\".", "",
             "## 1. At the VAD (train splits)", "",
             f"Turns whose speech probability reaches the engine's onset "
             f"({result['onset']}), and the share of 32 ms windows called speech.", "",
             "| set | how the audio arrives | turns reaching the onset | speech windows |",
             "|---|---|---|---|"]
    for name, rows in result["vad"].items():
        for label, r in rows.items():
            share = r["speech_windows"] / r["windows"] if r["windows"] else 0.0
            lines.append(f"| {name} | {label} | {r['reached']} of {r['turns']} | {share:.3f} |")
    lines += ["", "## 2. End to end (`tel8k` test split, `flux serve` and the CLI at `--fast`)",
              "", "| sent as | missed ends | false cut-offs | EOT p50 | p90 | WER |",
              "|---|---|---|---|---|---|"]
    for label, r in result["e2e"].items():
        lines.append(f"| {label} | {_pct(r['missed_rate'])} | {_pct(r['false_cutoff_rate'])} "
                     f"({r['pauses_cut']}/{r['pauses']}) | {_ms(r['eot_p50'])} | "
                     f"{_ms(r['eot_p90'])} | {_pct(r['wer'])} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    from flux_cli.engine.detector import DEFAULT_CONFIG

    p = argparse.ArgumentParser(prog="python -m benchmarks.phone_offset")
    p.add_argument("--cache-dir", type=Path, default=corpus.DEFAULT_CACHE)
    p.add_argument("--results-dir", type=Path, default=RESULTS)
    p.add_argument("--slack", type=float, default=scoring.DEFAULT_SLACK)
    p.add_argument("--skip-e2e", action="store_true", help="part 1 only (a minute)")
    args = p.parse_args(argv)
    vad = at_the_vad({"tel8k": set_calls("tel8k", "train", args.cache_dir)}, PHONE_VARIANTS)
    vad.update(at_the_vad({name: set_calls(name, "train", args.cache_dir)
                           for name in FULL_BAND}, FULL_BAND_VARIANTS))
    e2e = {} if args.skip_e2e else end_to_end(set_calls("tel8k", "test", args.cache_dir),
                                               args.slack)
    result = {"machine": report.machine_info(), "onset": DEFAULT_CONFIG.vad_onset,
              "vad": vad, "e2e": e2e}
    report.write_results(args.results_dir, "phone_offset", result, markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
