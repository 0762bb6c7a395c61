"""The one line a run ends with on stderr: turns, audio, and the server's delay p50/p90.

Shared by one input, many inputs and channels; ``flux report`` uses the same percentile.
"""

from __future__ import annotations

from collections.abc import Sequence

from flux_cli.render.state import Turn


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default); None for no values.

    An infinite value (a turn end never reached) is not interpolated with: a percentile that
    lands next to it is infinite, as it is in the data. Every figure in flux and in the
    benchmarks is computed here.
    """
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    if pos == low:
        return ordered[low]
    if ordered[high] == float("inf"):
        return ordered[high]
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def end_of_run_line(turns: Sequence[Turn], audio_s: float, prefix: str = "") -> str:
    """``flux: 5 turns (1 unfinished) · 30.4 s of audio · server delay p50 97 ms, p90 161 ms``."""
    finished = [t for t in turns if t.finished]
    count = len(finished)
    text = f"flux: {prefix}{count} turn{'' if count == 1 else 's'}"
    if len(turns) > count:
        text += f" (+{len(turns) - count} unfinished)"
    text += f" · {audio_s:.1f} s of audio"
    delays = [t.server_delay_s for t in finished if t.server_delay_s is not None]
    p50, p90 = percentile(delays, 50), percentile(delays, 90)
    if p50 is not None and p90 is not None:
        text += f" · server delay p50 {p50 * 1000:.0f} ms, p90 {p90 * 1000:.0f} ms"
    return text
