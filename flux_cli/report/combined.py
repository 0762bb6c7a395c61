"""``flux report`` on a ``--multichannel`` log: every channel on one timeline, labelled.

Each channel is folded on its own (``read_log`` with that channel), then the turns are
merged by start time. Figures stay per channel: a delay or a confidence belongs to a stream.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from flux_cli.render.captions import CaptionFormat, Cue, format_cues, turn_cues
from flux_cli.render.state import format_time
from flux_cli.report.formats import summary_lines
from flux_cli.report.log import RunLog
from flux_cli.report.summary import TurnRow, summarise, turn_rows


def timeline(runs: Mapping[str, RunLog]) -> list[tuple[str, TurnRow]]:
    """Every channel's turns, by start time (then channel, for equal starts)."""
    rows = [(name, row) for name, run in runs.items() for row in turn_rows(run)]
    return sorted(rows, key=lambda item: (item[1].start, item[0]))


def text(runs: Mapping[str, RunLog]) -> str:
    lines = [f"channels: {', '.join(runs)}"]
    for name, run in runs.items():
        lines += [f"{name}: {line}" for line in summary_lines(summarise(run))]
    merged = timeline(runs)
    width = max((len(name) for name in runs), default=0)
    lines.append("")
    for name, row in merged:
        unfinished = "" if row.finished else " (unfinished)"
        lines.append(f"[{format_time(row.start)}-{format_time(row.end)}] "
                     f"{name.ljust(width)}  {row.transcript}{unfinished}")
    return "\n".join(lines) + "\n"


def json_text(runs: Mapping[str, RunLog]) -> str:
    data: dict[str, Any] = {
        "channels": {name: summarise(run).to_dict() for name, run in runs.items()},
        "turns": [{"channel": name, **row.to_dict()} for name, row in timeline(runs)],
    }
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"


def captions(runs: Mapping[str, RunLog], fmt: CaptionFormat) -> str:
    """One caption file, each cue naming its channel (a WebVTT voice, a prefix in SRT)."""
    cues: list[Cue] = [cue for name, run in runs.items() for turn in run.turns
                       for cue in turn_cues(turn, voice=name)]
    return format_cues(sorted(cues, key=lambda cue: cue.start), fmt)
