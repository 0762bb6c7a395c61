"""``flux report --plot FILE.png``: one run (or two) drawn over audio time.

Top: end-of-turn confidence of every ``TurnInfo`` against the ``eot_threshold`` and eager
lines (as steps, if ``Configure`` changed them), turns shaded, and the state changes marked
where they were decided: EagerEndOfTurn, TurnResumed, EndOfTurn. Below: one lane per run
with its turns as bars and their transcripts written in where they fit, so two runs of the
same audio (``--compare``) line up turn for turn.

matplotlib comes from the optional ``[report]`` extra: imported here, lazily, and only when a
plot is asked for; ``MissingExtra`` carries the one-line install hint otherwise.
"""

from __future__ import annotations

import os
import textwrap
from collections.abc import Sequence
from typing import Any

from flux_cli.errors import MissingExtra, UsageError
from flux_cli.report.log import RunLog

RUN_COLOURS = ("#1f5fa8", "#d9661f")  # A blue, B orange
TURN_SHADES = ("#1f5fa8", "#d9661f")
EVENT_MARKS = {
    "EagerEndOfTurn": ("v", "#e0a100", "EagerEndOfTurn"),
    "TurnResumed": ("X", "#8e44ad", "TurnResumed"),
    "EndOfTurn": ("o", "#1a9850", "EndOfTurn"),
}
WIDTH_IN, DPI = 13.0, 110
LABEL_POINTS = 7.5
LABEL_LINES = 3
LANE_IN = 0.75  # height of one run's lane: three lines of label text


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")  # files only: never open a window
        import matplotlib.pyplot as plt
    except ImportError:
        raise MissingExtra(
            "--plot needs matplotlib: pip install 'flux-cli[report]'"
        ) from None
    return plt


def _steps(run: RunLog, name: str, end: float) -> tuple[list[float], list[float]] | None:
    steps = run.threshold_steps(name)
    if all(value is None for _, value in steps):
        return None
    xs: list[float] = []
    ys: list[float] = []
    for i, (at, value) in enumerate(steps):
        until = steps[i + 1][0] if i + 1 < len(steps) else end
        if value is not None:
            xs += [at, until, float("nan")]
            ys += [value, value, float("nan")]
    return xs, ys


def _fit_label(text: str, width_in: float, max_lines: int = LABEL_LINES) -> str:
    """As much of ``text`` as fits a box ``width_in`` inches wide, wrapped (… when cut)."""
    chars = int(width_in * 72 / (LABEL_POINTS * 0.6))
    if chars < 4:
        return ""
    lines = textwrap.wrap(text, chars, break_long_words=True)
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = lines[-1][: chars - 1].rstrip() + "…"
    return "\n".join(lines)


def _short(name: str, limit: int = 22) -> str:
    base = os.path.basename(name) or name
    return base if len(base) <= limit else base[: limit - 1] + "…"


def _draw_confidence(ax: Any, runs: Sequence[RunLog], end: float) -> None:
    for i, turn in enumerate(runs[0].turns):
        ax.axvspan(turn.start, turn.end, color=TURN_SHADES[0], alpha=0.08 if i % 2 else 0.13, lw=0)
    seen: set[str] = set()
    for r, run in enumerate(runs):
        colour = RUN_COLOURS[r]
        tag = f" ({'AB'[r]})" if len(runs) > 1 else ""
        xs = [at for at, _ in run.confidence]
        ys = [c for _, c in run.confidence]
        ax.plot(xs, ys, color=colour, lw=1.4, ls="-" if r == 0 else "--",
                label=f"end-of-turn confidence{tag}")
        for name, style, label in (("eot_threshold", "-.", "eot_threshold"),
                                   ("eager_eot_threshold", ":", "eager_eot_threshold")):
            steps = _steps(run, name, end)
            if steps is not None:
                values = {v for _, v in run.threshold_steps(name) if v is not None}
                shown = "/".join(f"{v:g}" for v in sorted(values))
                ax.plot(*steps, color=colour, ls=style, lw=1.0, alpha=0.8,
                        label=f"{label} {shown}{tag}")
        for event in run.events:
            mark = EVENT_MARKS.get(event.event)
            if mark is None:
                continue
            marker, face, label = mark
            ax.scatter([event.at], [event.confidence], marker=marker, s=46, color=face,
                       edgecolors=colour, linewidths=0.8, zorder=5,
                       label=label if label not in seen else None)
            seen.add(label)
    ax.set_ylim(-0.02, 1.05)
    ax.set_ylabel("end-of-turn confidence")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.005, 1.0), fontsize=8, frameon=False)


def _nudge(ax: Any) -> Any:
    """A small offset in points, so labels start just inside their bar."""
    from matplotlib.transforms import ScaledTranslation

    return ScaledTranslation(3 / 72, 0, ax.figure.dpi_scale_trans)


def _draw_lanes(ax: Any, runs: Sequence[RunLog], inches_per_s: float) -> None:
    for r, run in enumerate(runs):
        y = len(runs) - 1 - r
        colour = RUN_COLOURS[r]
        for turn in run.turns:
            width = max(0.05, turn.end - turn.start)
            ax.broken_barh([(turn.start, width)], (y + 0.06, 0.88), color=colour,
                           alpha=0.22 if turn.finished else 0.1, lw=0.8, edgecolor=colour)
            label = _fit_label(turn.transcript, width * inches_per_s - 0.06)
            if label:
                ax.text(turn.start, y + 0.5, label, va="center", ha="left",
                        fontsize=LABEL_POINTS, clip_on=True, linespacing=1.15,
                        transform=ax.transData + _nudge(ax))
    ax.set_ylim(0, len(runs))
    ax.set_yticks([len(runs) - 0.5 - r for r in range(len(runs))])
    names = [f"{'AB'[r]}: {_short(run.name)}" if len(runs) > 1 else "turns"
             for r, run in enumerate(runs)]
    ax.set_yticklabels(names, fontsize=8)
    ax.set_xlabel("audio time (s)")
    ax.grid(axis="x", alpha=0.3)


def write_plot(
    path: str,
    run: RunLog,
    other: RunLog | None = None,
    window: tuple[float, float] | None = None,
) -> None:
    """Draw the run (and the one it is compared with) into a PNG at ``path``.

    ``window`` (start, end seconds) draws only that stretch of audio: a long run's turns are
    too narrow to read on one page.
    """
    plt = _pyplot()
    runs = [run] if other is None else [run, other]
    end = max(r.audio_s for r in runs) or 1.0
    start, stop = window if window is not None else (0.0, end)
    lane_h = LANE_IN * len(runs)
    fig, (top, lanes) = plt.subplots(
        2, 1, sharex=True, figsize=(WIDTH_IN, 4.2 + lane_h),
        gridspec_kw={"height_ratios": [4.2, lane_h], "hspace": 0.08},
    )
    plot_width_in = WIDTH_IN * 0.69  # the axes' share of the figure (see subplots_adjust)
    fig.subplots_adjust(left=0.11, right=0.80, top=0.93, bottom=0.1)
    _draw_confidence(top, runs, end)
    _draw_lanes(lanes, runs, plot_width_in / max(0.1, stop - start))
    top.set_xlim(start, stop)
    title = _short(run.name, 40)
    if other is not None:
        title = f"{title} (A) vs {_short(other.name, 40)} (B)"
    span = f" ({start:g}-{stop:g} s)" if window is not None else ""
    top.set_title(
        f"{title}: end-of-turn confidence over audio time{span}", fontsize=11, loc="left"
    )
    try:
        fig.savefig(path, dpi=DPI)
    except OSError as exc:
        raise UsageError(f"cannot write --plot {path}: {exc.strerror or exc}") from None
    finally:
        plt.close(fig)
