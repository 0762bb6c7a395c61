"""Truth from labels, for people without stereo: Audacity label tracks, RTTM, or our JSON.

Audacity and RTTM say who spoke when; the same gap rule as for stereo calls turns that
into holds and shifts (``gaps.derive``, with ``mixed``: the audio holds everyone). Our
benchmark's JSON (``samples/labels.json``) states turns and the pauses inside them, so it
is read as it stands: each pause a hold, each turn end a shift.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from flux_cli.evaluate.gaps import DEFAULT_GAP_RULE, GapRule, derive
from flux_cli.evaluate.truth import CallTruth, Hold, Segment, Shift


class LabelError(ValueError):
    """A label file we cannot read as any of the three formats."""


def parse_audacity(text: str) -> dict[str, list[Segment]]:
    """``start<TAB>end<TAB>speaker`` lines (Audacity's "Export Labels"); speaker may be empty."""
    found: dict[str, list[Segment]] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("\\"):  # "\" lines: spectral selection
            continue
        parts = line.split("\t")
        try:
            start, end = float(parts[0]), float(parts[1])
        except (IndexError, ValueError):
            raise LabelError(f"line {number}: expected START<TAB>END<TAB>LABEL") from None
        if end < start:
            raise LabelError(f"line {number}: ends before it starts")
        label = parts[2].strip() if len(parts) > 2 else ""
        found.setdefault(label, []).append((start, end))
    return {k: sorted(v) for k, v in found.items()}


def parse_rttm(text: str, file_id: str | None = None) -> dict[str, list[Segment]]:
    """``SPEAKER file chan onset dur <NA> <NA> speaker ...`` lines; other types are skipped.

    An RTTM can hold several recordings: with ``file_id`` only that one's lines count
    (when it has any).
    """
    rows: list[tuple[str, str, float, float]] = []
    for number, line in enumerate(text.splitlines(), 1):
        fields = line.split()
        if not fields or fields[0] != "SPEAKER":
            continue
        try:
            onset, dur = float(fields[3]), float(fields[4])
            rows.append((fields[1], fields[7], onset, onset + dur))
        except (IndexError, ValueError):
            raise LabelError(f"line {number}: not an RTTM SPEAKER line") from None
    if file_id is not None and any(r[0] == file_id for r in rows):
        rows = [r for r in rows if r[0] == file_id]
    found: dict[str, list[Segment]] = {}
    for _file, who, start, end in rows:
        found.setdefault(who, []).append((start, end))
    return {k: sorted(v) for k, v in found.items()}


def from_speakers(
    name: str,
    by_speaker: Mapping[str, Sequence[Segment]],
    duration: float,
    speaker: str | None,
    rule: GapRule,
    method: str,
) -> CallTruth:
    """One speaker's holds and shifts against everyone else; None: every speaker's."""
    if speaker is not None and speaker not in by_speaker:
        known = ", ".join(sorted(by_speaker)) or "none"
        raise LabelError(f"no speech labelled {speaker!r} (labels: {known})")
    chosen = [speaker] if speaker is not None else sorted(by_speaker)
    merged = CallTruth(name=name, duration=duration, method=method)
    for who in chosen:
        others = [s for k, segs in by_speaker.items() if k != who for s in segs]
        part = derive(name, by_speaker[who], others, duration, rule, method, mixed=True)
        merged.holds += part.holds
        merged.shifts += part.shifts
        merged.speech += part.speech
        merged.overlaps += part.overlaps
    merged.holds.sort(key=lambda h: h.start)
    merged.shifts.sort(key=lambda s: s.end)
    merged.speech.sort()
    return merged


def _turns_entry(data: Any, audio_name: str) -> dict[str, Any]:
    if isinstance(data, dict) and isinstance(data.get("turns"), list):
        return data
    if isinstance(data, dict):
        for key in (audio_name, Path(audio_name).name):
            entry = data.get(key)
            if isinstance(entry, dict) and "same_as" in entry:
                entry = data.get(entry["same_as"])
            if isinstance(entry, dict) and isinstance(entry.get("turns"), list):
                return entry
    raise LabelError(f"no turns for {Path(audio_name).name} in this JSON")


def from_turns_json(
    name: str, data: Any, duration: float, speaker: str | None, rule: GapRule
) -> CallTruth:
    """Explicit turns (``start``, ``end``, ``pauses``, optional ``speaker``) as they stand."""
    entry = _turns_entry(data, name)
    try:
        turns = sorted(
            (
                float(t["start"]), float(t["end"]),
                [(float(a), float(b)) for a, b in t.get("pauses", [])],
                str(t.get("speaker", "")),
            )
            for t in entry["turns"]
        )
    except (KeyError, TypeError, ValueError):
        raise LabelError("each turn needs start and end (seconds) and may have pauses") from None
    duration = float(entry.get("duration", duration))
    if speaker is not None and all(who != speaker for *_rest, who in turns):
        raise LabelError(f"no turn with speaker {speaker!r}")
    truth = CallTruth(name=name, duration=duration,
                      method="labelled turns (JSON): each pause a hold, each turn end a shift")
    for i, (start, end, pauses, who) in enumerate(turns):
        if speaker is not None and who != speaker:
            continue
        truth.holds += [Hold(a, b) for a, b in pauses if b - a >= rule.min_pause_s]
        cuts = [start, *[x for p in pauses for x in p], end]
        truth.speech += [(cuts[k], cuts[k + 1]) for k in range(0, len(cuts), 2)]
        if i + 1 < len(turns):
            nxt = turns[i + 1][0]
            truth.shifts.append(Shift(end, nxt, nxt))
        elif duration - end >= rule.final_silence_s:
            truth.shifts.append(Shift(end, None, duration))
    return truth


def read_labels(
    path: Path,
    audio_name: str,
    duration: float,
    speaker: str | None = None,
    rule: GapRule = DEFAULT_GAP_RULE,
) -> CallTruth:
    """The truth of ``audio_name`` from a label file, its format told by its content."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise LabelError(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise LabelError(f"{path}: not a text label file") from None
    name = Path(audio_name).name
    if text.lstrip().startswith("{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise LabelError(f"{path}: bad JSON ({exc.msg}, line {exc.lineno})") from None
        return from_turns_json(audio_name, data, duration, speaker, rule)
    if any(line.startswith("SPEAKER ") for line in text.splitlines()):
        by_speaker = parse_rttm(text, Path(audio_name).stem)
        kind = "RTTM"
    else:
        by_speaker = parse_audacity(text)
        kind = "Audacity labels"
    if not by_speaker:
        raise LabelError(f"{path}: no labelled speech")
    method = f"{kind} of {name}: " + rule.describe()
    return from_speakers(audio_name, by_speaker, duration, speaker, rule, method)
