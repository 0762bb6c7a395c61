"""``flux eval --plot FILE.png``: the trade-off curve, false cut-offs against median latency.

One line per run (a server, or a run given to ``--compare``), a point per threshold with
its value written beside it, the ``--target-cutoffs`` line, and the recommended point
ringed. Down and to the left is better. matplotlib comes from the ``[report]`` extra.
"""

from __future__ import annotations

from collections.abc import Sequence

from flux_cli.errors import UsageError
from flux_cli.evaluate.results import RunSummary
from flux_cli.evaluate.tradeoff import Recommendation
from flux_cli.report.plot import RUN_COLOURS, _pyplot

EXTRA_COLOURS = ("#2a9d55", "#8e44ad", "#555555")


def write_tradeoff(
    path: str, runs: Sequence[RunSummary], recommendation: Recommendation | None
) -> None:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8.0, 5.2))
    colours = (*RUN_COLOURS, *EXTRA_COLOURS)
    top_x, top_y = 1.0, 100 * (recommendation.target if recommendation else 0.05)
    for i, run in enumerate(runs):
        points = [p for p in run.points if p.p50 is not None]
        points.sort(key=lambda p: (p.threshold is None, p.threshold or 0.0))
        if not points:
            continue
        xs = [p.p50 or 0.0 for p in points]
        ys = [100 * p.score.cutoff_rate for p in points]
        colour = colours[i % len(colours)]
        top_x, top_y = max(top_x, *xs), max(top_y, *ys)
        ax.plot(xs, ys, marker="o", color=colour, lw=1.6, label=run.name)
        for p, x, y in zip(points, xs, ys, strict=True):
            ax.annotate(p.label, (x, y), textcoords="offset points", xytext=(6, 5),
                        fontsize=8, color=colour)
    if recommendation is not None:
        ax.axhline(100 * recommendation.target, color="#999999", ls="--", lw=1.0,
                   label=f"target: {recommendation.target:.0%} false cut-offs")
        chosen = recommendation.point
        if chosen is not None and chosen.p50 is not None:
            ax.scatter([chosen.p50], [100 * chosen.score.cutoff_rate], s=260, facecolors="none",
                       edgecolors="#d62728", linewidths=2.0, zorder=5,
                       label=f"recommended: eot_threshold {chosen.label}")
    ax.set_xlabel("median end-of-turn latency after the speaker stopped (s)")
    ax.set_ylabel("false cut-offs (% of holds)")
    ax.set_ylim(0, top_y * 1.2 + 2)  # room above the highest point for its label
    ax.set_xlim(0, top_x * 1.15)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")
    ax.set_title("turn-taking trade-off: lower and further left is better", fontsize=11,
                 loc="left")
    fig.tight_layout()
    try:
        fig.savefig(path, dpi=110)
    except OSError as exc:
        raise UsageError(f"cannot write --plot {path}: {exc.strerror or exc}") from None
    finally:
        plt.close(fig)
