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

0. **The band check** (stop 36, ``flux_cli/audio/band_check.py``; level-free since stop 41):
   which streams above 8 kHz the engine rules band-limited (and so removes their offset as a
   phone line's): every set's train and test calls as a client sends them at 16 kHz (16-bit
   PCM), and the ``tel8k`` calls as a G.711-coded recording upsampled by the CLI (soxr), sox
   and ffmpeg (each when installed), at 16 and 48 kHz; each as recorded and 10, 20 and 30 dB
   quieter (a quiet call must be found as a loud one is, quiet full-band speech not).

A stream it rules band-limited is taken back to 8 kHz and handled as a phone line from the
verdict on (``flux_cli/audio/phone_line.py``). Part 1 also has the WAV and the coded recording
sent at 16 kHz through the engine's decoder, and part 2 the recording upsampled by sox
(another client) when sox is installed, as recorded and 10 and 30 dB quieter.

Nothing is tuned here (the check's threshold was set from part 0's calls and the committed
test clips: ``docs/TURNS.md``). Writes ``results/phone_offset.{json,md}``.
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import corpus, report, scoring
from benchmarks.corpus import Call
from benchmarks.eot_train import NEVER_TRAINED, decoded_by_engine, set_calls
from benchmarks.run import engine_pass, summarise
from benchmarks.servers import EngineServer
from flux_cli.audio.band_check import NARROW_BELOW_DB
from flux_cli.engine.interfaces import SAMPLE_RATE, VAD_WINDOW

RESULTS = Path(__file__).with_name("results")
PHONE_RATE = 8000
FULL_BAND = ("real", "neural", "synthetic", "noisy10")
CHECKED_SETS = ("real", "neural", "synthetic", "noisy10", "noisy20", "twoparty",
                "twoparty_close", "twoparty_overlap", "unseen_twoparty", *NEVER_TRAINED)
FULL_BAND_OFFSET = 1e-3
# Part 0 also hears every call this much quieter: the band check must not depend on the level
QUIETER_DB = (10.0, 20.0, 30.0)
QUIETER_GAINS = tuple(10.0 ** (-q / 20.0) for q in QUIETER_DB)
# Part 2's quiet phone calls: the µ-law recording this much quieter, upsampled by sox
E2E_QUIETER_DB = (10.0, 30.0)
TEL8K_SPEECH_DBFS = -36.0  # about where the ``tel8k`` calls' speech lies as recorded
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

    data = encode(audio, encoding)
    frame = PHONE_RATE // 50
    if blocker:
        return decoded_by_engine(data, encoding, PHONE_RATE, frame)[0]
    resampler = StreamResampler(PHONE_RATE, SAMPLE_RATE)
    parts = [resampler.process(decode(data[i:i + frame], encoding))
             for i in range(0, len(data), frame)]
    return np.concatenate([*parts, resampler.flush()])


def sent_16k(audio: np.ndarray) -> np.ndarray:
    """16 kHz ``audio`` sent as linear16 and decoded by the engine's wire decoder (the band
    check), in 20 ms frames."""
    from flux_cli.audio.encoding import encode

    return decoded_by_engine(encode(audio, "linear16"), "linear16", SAMPLE_RATE,
                             2 * SAMPLE_RATE // 50)[0]


def as_pcm16(audio: np.ndarray) -> np.ndarray:
    """What arrives when ``audio`` is sent as 16-bit PCM."""
    from flux_cli.audio.encoding import decode, encode

    return decode(encode(audio, "linear16"), "linear16")


def band_verdict(audio: np.ndarray, rate: int) -> tuple[bool | None, float | None]:
    """The engine's band check over ``audio`` in 20 ms frames: (band-limited?, its ratio)."""
    from flux_cli.audio.band_check import BandCheck

    check = BandCheck(rate)
    frame = rate // 50
    for i in range(0, len(audio), frame):
        check.feed(audio[i:i + frame])
        if check.verdict is not None:
            break
    return check.verdict, check.ratio_db


def upsampled_by_tool(coded: np.ndarray, tool: str, rate: int, work: Path) -> np.ndarray | None:
    """An 8 kHz recording resampled by ``sox`` or ``ffmpeg`` (their defaults) to a 16-bit WAV
    at ``rate``; None when the tool is not installed. sox dithers, with the same random numbers
    at every run (``-R``): without it two runs differ at -100 dBFS, and the turns with them."""
    import soundfile as sf

    if shutil.which(tool) is None:
        return None
    src, dst = work / "in.wav", work / f"{tool}-{rate}.wav"
    sf.write(src, coded, PHONE_RATE, subtype="PCM_16")
    if tool == "sox":
        command = ["sox", "-R", str(src), "-r", str(rate), str(dst)]  # -R: the same dither
    else:
        command = ["ffmpeg", "-loglevel", "error", "-y", "-i", str(src), "-ar", str(rate),
                   str(dst)]
    subprocess.run(command, check=True)
    audio, _ = sf.read(dst, dtype="float32")
    return np.asarray(audio, dtype=np.float32)


def band_census(cache: Path) -> list[dict[str, Any]]:
    """Part 0: the band check's verdict on every set's calls and on upsampled phone calls, each
    as recorded and 10, 20 and 30 dB quieter (the quieter levels together in one row)."""
    import soundfile as sf

    rows: list[dict[str, Any]] = []

    def add(name: str, split: str, how: str, level: str,
            verdicts: list[tuple[bool | None, float | None]]) -> None:
        ratios = [r for _, r in verdicts if r is not None]
        rows.append({"set": name, "split": split, "how": how, "level": level,
                     "calls": len(verdicts),
                     "band_limited": sum(v is True for v, _ in verdicts),
                     "full_band": sum(v is False for v, _ in verdicts),
                     "no_verdict": sum(v is None for v, _ in verdicts),
                     "ratio_min": min(ratios, default=None),
                     "ratio_max": max(ratios, default=None)})

    quieter_label = ", ".join(f"{q:g}" for q in QUIETER_DB) + " dB quieter"
    for split in ("train", "test"):
        all_quieter: list[tuple[bool | None, float | None]] = []
        for name in CHECKED_SETS:
            if name in (*NEVER_TRAINED, "unseen_twoparty") and split == "train":
                continue
            verdicts = []
            for call in set_calls(name, split, cache):
                audio, rate = sf.read(call.path, dtype="float32")
                mono = to_16k(audio.mean(axis=1) if audio.ndim == 2 else audio, rate)
                verdicts.append(band_verdict(as_pcm16(mono), SAMPLE_RATE))
                all_quieter += [band_verdict(as_pcm16(mono * gain), SAMPLE_RATE)
                                for gain in QUIETER_GAINS]
            add(name, split, "as sent at 16 kHz", "as recorded", verdicts)
        add("every set above", split, "as sent at 16 kHz", quieter_label, all_quieter)
    with tempfile.TemporaryDirectory(prefix="flux-band-") as tmp:
        for split in ("train", "test"):
            ways: dict[str, dict[str, list[tuple[bool | None, float | None]]]] = {}
            for call in set_calls("tel8k", split, cache):
                recorded, rate = sf.read(call.path, dtype="float32")
                for gain in (1.0, *QUIETER_GAINS):
                    at = ways.setdefault("as recorded" if gain == 1.0 else quieter_label, {})
                    audio = np.asarray(recorded * gain, dtype=np.float32)
                    coded = g711(audio, "mulaw")
                    at.setdefault("the WAV upsampled by the CLI (soxr)", []).append(
                        band_verdict(as_pcm16(to_16k(audio, rate)), SAMPLE_RATE))
                    at.setdefault("a µ-law recording upsampled by the CLI (soxr)", []).append(
                        band_verdict(as_pcm16(to_16k(coded, rate)), SAMPLE_RATE))
                    for tool in ("sox", "ffmpeg"):
                        for out_rate in (SAMPLE_RATE, 48000):
                            up = upsampled_by_tool(coded, tool, out_rate, Path(tmp))
                            if up is not None:
                                at.setdefault(f"a µ-law recording upsampled by {tool} to "
                                              f"{out_rate // 1000} kHz", []).append(
                                    band_verdict(up, out_rate))
            for level, by_how in ways.items():  # as recorded first: the first gain
                for how, verdicts in by_how.items():
                    add("tel8k", split, how, level, verdicts)
    return rows


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
    "the WAV at 16 kHz (`--sample-rate 16000`; no codec), before": lambda a, r: to_16k(a, r),
    "the WAV sent at 16 kHz (now: the band check)": lambda a, r: sent_16k(to_16k(a, r)),
    "a µ-law recording sent at 16 kHz (offset kept: before)":
        lambda a, r: to_16k(g711(a, "mulaw"), r),
    "a µ-law recording sent at 16 kHz (now: the band check)":
        lambda a, r: sent_16k(to_16k(g711(a, "mulaw"), r)),
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


def sox_upsampled(calls: list[Call], work: Path, quieter_db: float = 0.0) -> list[Call]:
    """Each recording as another client would hand it over: ``quieter_db`` quieter, upsampled
    by sox (its default rate conversion and dither) to a 16 kHz WAV; [] without sox."""
    import soundfile as sf

    out = []
    for call in calls:
        audio, _ = sf.read(call.path, dtype="float32")
        quieter = np.asarray(audio * 10.0 ** (-quieter_db / 20.0), dtype=np.float32)
        up = upsampled_by_tool(quieter, "sox", SAMPLE_RATE, work)
        if up is None:
            return []
        path = work / f"sox{quieter_db:g}-{call.path.name}"
        sf.write(path, up, SAMPLE_RATE, subtype="PCM_16")
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
            ("the WAV at `--sample-rate 16000` (the default before; now: the band check)", calls,
             {"sample_rate": "16000"}),
            ("a µ-law recording at the CLI's default (its own 8 kHz)", coded, {}),
            ("the same recording at `--sample-rate 16000` (the default before; now: the band "
             "check)", coded, {"sample_rate": "16000"}),
        ]
        by_sox = sox_upsampled(coded, work)
        if by_sox:
            ways.append(("the recording upsampled to 16 kHz by sox (another client)", by_sox, {}))
            for quieter in E2E_QUIETER_DB:
                ways.append((f"the same {quieter:g} dB quieter (its speech about "
                             f"{TEL8K_SPEECH_DBFS - quieter:g} dBFS)",
                             sox_upsampled(coded, work, quieter), {}))
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
             f"{report.measured_on(m)}. Why and what the engine does: `docs/TURNS.md`, "
             "\"Phone lines: the codec's offset\".", "",
             "## 0. The band check: streams above 8 kHz ruled band-limited", "",
             "Each call's first second above -70 dBFS: the power over 4.5-7.5 kHz above that "
             "band's own floor (its lower quartile over the second) against the power over "
             f"2-3.3 kHz (band-limited below {NARROW_BELOW_DB:g} dB); such a stream is taken "
             "back to 8 kHz and handled as a phone line from the verdict on, every other "
             "stream arrives bit for bit.", "",
             "| set | split | how it arrives | level | calls | band-limited | full band | "
             "no verdict | ratio (dB) |", "|---|---|---|---|---|---|---|---|---|"]
    for row in result.get("band", []):
        span = ("-" if row["ratio_min"] is None
                else f"{row['ratio_min']:.1f} to {row['ratio_max']:.1f}")
        lines.append(f"| {row['set']} | {row['split']} | {row['how']} | "
                     f"{row.get('level', 'as recorded')} | {row['calls']} | "
                     f"{row['band_limited']} | {row['full_band']} | {row['no_verdict']} | "
                     f"{span} |")
    lines += ["", "## 1. At the VAD (train splits)", "",
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
    band = band_census(args.cache_dir)
    vad = at_the_vad({"tel8k": set_calls("tel8k", "train", args.cache_dir)}, PHONE_VARIANTS)
    vad.update(at_the_vad({name: set_calls(name, "train", args.cache_dir)
                           for name in FULL_BAND}, FULL_BAND_VARIANTS))
    e2e = {} if args.skip_e2e else end_to_end(set_calls("tel8k", "test", args.cache_dir),
                                               args.slack)
    result = {"machine": report.machine_info(), "onset": DEFAULT_CONFIG.vad_onset,
              "band": band, "vad": vad, "e2e": e2e}
    report.write_results(args.results_dir, "phone_offset", result, markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
