"""``flux report --format``: plain text, JSON, SRT or WebVTT, as strings.

The text form is built as lines and table cells here; ``render.report_table`` lays the same
cells out as a Rich table on a terminal, so piped and terminal reports say the same things.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from flux_cli.render.captions import CaptionFormat, format_cues, turn_cues
from flux_cli.render.state import format_time
from flux_cli.report.log import RunLog
from flux_cli.report.summary import END_TOLERANCE_S, Difference, Summary, TurnRow

if TYPE_CHECKING:
    from flux_cli.render.report_table import ReportTable

COLUMNS = ("#", "start", "end", "dur", "words", "trigger", "conf", "delay", "transcript")
NUMERIC = frozenset({"#", "dur", "words", "conf", "delay"})


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.0f} ms"


def _num(value: float | None, fmt: str = ".2f") -> str:
    return "-" if value is None else format(value, fmt)


def summary_lines(s: Summary) -> list[str]:
    thresholds = _thresholds(s)
    triggers = ", ".join(f"{k} {v}" for k, v in sorted(s.triggers.items())) or "none"
    lines = [
        f"{s.name}  (request {s.request_id or '-'})",
        f"audio {s.audio_s:.1f} s · {_n(s.turns, 'turn')}"
        + (f" + {s.unfinished} unfinished" if s.unfinished else "")
        + f" · {_n(s.words, 'word')} · {_n(s.messages, 'message')}",
        f"EndOfTurn triggers: {triggers} · eager ends {s.eager_ends} ({s.resumed} resumed)"
        f" · thresholds {thresholds}",
        f"end-of-turn confidence at the ends: median {_num(s.end_confidence_median)},"
        f" min {_num(s.end_confidence_min)}",
        f"server delay per turn ({s.delays_measured} measured): p50 {_ms(s.delay_p50_s)}"
        f" · p90 {_ms(s.delay_p90_s)} · max {_ms(s.delay_max_s)}",
    ]
    lines.extend(f"note: {note}" for note in s.notes)
    return lines


def row_cells(row: TurnRow) -> list[str]:
    text = row.transcript + ("" if row.finished else " (unfinished)")
    return [
        str(row.index),
        format_time(row.start),
        format_time(row.end),
        f"{row.duration:.2f}",
        str(row.words),
        row.trigger or "-",
        f"{row.confidence:.2f}",
        _ms(row.delay_s),
        text,
    ]


def plain_table(rows: Sequence[TurnRow]) -> list[str]:
    """Columns padded to their widest cell; the transcript last and never cut."""
    cells = [list(COLUMNS), *(row_cells(r) for r in rows)]
    widths = [max(len(c[i]) for c in cells) for i in range(len(COLUMNS) - 1)]
    out = []
    for line in cells:
        padded = [
            cell.rjust(w) if COLUMNS[i] in NUMERIC else cell.ljust(w)
            for i, (cell, w) in enumerate(zip(line, widths, strict=False))
        ]
        out.append("  ".join([*padded, line[-1]]).rstrip())
    return out


def _turn_ref(label: str, turns: Sequence[Any]) -> str:
    if not turns:
        return f"{label} -"
    spans = ", ".join(f"#{t.index} [{format_time(t.start)}-{format_time(t.end)}]" for t in turns)
    return f"{label} {spans}"


def difference_lines(diffs: Sequence[Difference]) -> list[str]:
    out = []
    for d in diffs:
        head = f"{d.kind}: {_turn_ref('A', d.a)} · {_turn_ref('B', d.b)}"
        out.append(head + (f" ({d.detail})" if d.detail else ""))
        if len(d.a) == len(d.b) == 1 and d.a[0].transcript == d.b[0].transcript:
            out.append(f"    A, B: {d.a[0].transcript}")
            continue
        for label, turns in (("A", d.a), ("B", d.b)):
            for t in turns:
                out.append(f"    {label} #{t.index}: {t.transcript}")
    return out


def _thresholds(s: Summary) -> str:
    text = f"eot {s.eot_threshold:g}"
    if s.eager_eot_threshold is not None:
        text += f", eager {s.eager_eot_threshold:g}"
    return text


def comparison_lines(a: Summary, b: Summary, diffs: Sequence[Difference]) -> list[str]:
    lines = [
        f"compared: A = {a.name} ({_thresholds(a)}), B = {b.name} ({_thresholds(b)})",
        f"turns {a.turns} vs {b.turns} · eager ends {a.eager_ends} vs {b.eager_ends}"
        f" · delay p50 {_ms(a.delay_p50_s)} vs {_ms(b.delay_p50_s)}"
        f" · p90 {_ms(a.delay_p90_s)} vs {_ms(b.delay_p90_s)}",
    ]
    if not diffs:
        lines.append(
            f"the turns match (same turns, ends within {END_TOLERANCE_S:g} s, same words)"
        )
    else:
        lines.append(f"{len(diffs)} place(s) where the turns differ:")
        lines.extend("  " + line for line in difference_lines(diffs))
    return lines


def text_report(
    summary: Summary,
    rows: Sequence[TurnRow],
    comparison: tuple[Summary, Sequence[Difference]] | None = None,
) -> str:
    lines = [*summary_lines(summary), "", *plain_table(rows)]
    if comparison is not None:
        lines += ["", *comparison_lines(summary, *comparison)]
    return "\n".join(lines) + "\n"


def report_table(
    summary: Summary,
    rows: Sequence[TurnRow],
    comparison: tuple[Summary, Sequence[Difference]] | None = None,
) -> ReportTable:
    """The terminal's table: the same lines and cells as ``text_report`` (Rich loads here)."""
    from flux_cli.render.report_table import ReportTable

    footer = comparison_lines(summary, *comparison) if comparison is not None else []
    return ReportTable(
        header=summary_lines(summary),
        columns=COLUMNS,
        numeric=NUMERIC,
        wide="transcript",
        rows=[(row_cells(row), row.finished) for row in rows],
        footer=footer,
    )


def json_report(
    summary: Summary,
    rows: Sequence[TurnRow],
    comparison: tuple[Summary, Sequence[Difference]] | None = None,
) -> str:
    data: dict[str, Any] = {"summary": summary.to_dict(), "turns": [r.to_dict() for r in rows]}
    if comparison is not None:
        other, diffs = comparison
        data["compare"] = {"summary": other.to_dict(), "differences": [d.to_dict() for d in diffs]}
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"


def captions_report(run: RunLog, fmt: CaptionFormat) -> str:
    """The log's turns as a caption file, cut into cues as ``--srt``/``--vtt`` would."""
    cues = [cue for turn in run.turns for cue in turn_cues(turn)]
    return format_cues(cues, fmt)
