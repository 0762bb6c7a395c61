"""``--srt`` / ``--vtt``: captions written while the stream runs, one flushed cue at a time.

A finished turn becomes one or more cues at once, so a file that is read (or cut off) at any
moment holds only whole cues: after Ctrl-C the unfinished last turn is written and the file
ends there, still valid. Cue times are audio time (seconds from the first byte sent).

Long turns are split where a reader can follow them: at most ``max_lines`` lines of at most
``line_chars`` characters and ``max_seconds`` a cue, cut between words at the words' own
times (``words[].start/end``); when a server sends no word times they are spread over the
turn by character count. Cue splitting is pure (``turn_cues``) so it is tested on literals.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, TextIO

from flux_cli.render.state import Notice, Turn, ViewState

CaptionFormat = Literal["srt", "vtt"]
MIN_CUE_S = 0.7  # a cue shorter than this flashes by; stretched when there is room


@dataclass(frozen=True)
class CueLimits:
    """Readability limits, from common subtitling guidance (2 lines, ~42 chars, ~7 s)."""

    max_lines: int = 2
    line_chars: int = 42
    max_seconds: float = 7.0


@dataclass(frozen=True)
class Cue:
    start: float
    end: float
    lines: tuple[str, ...]
    voice: str | None = None


@dataclass(frozen=True)
class _Token:
    text: str
    start: float
    end: float


def _timed_tokens(turn: Turn) -> list[_Token]:
    """The transcript's tokens with times: the words' own, else spread by character count.

    The transcript is what is shown; word times are used only when the words line up with
    its tokens one to one and all carry times. Times are made non-decreasing.
    """
    tokens = turn.transcript.split()
    words = turn.words
    timed = len(words) == len(tokens) and all(
        w.start is not None and w.end is not None for w in words
    )
    out: list[_Token] = []
    if timed:
        for token, word in zip(tokens, words, strict=True):
            out.append(_Token(token, float(word.start or 0.0), float(word.end or 0.0)))
    else:
        total = sum(len(t) + 1 for t in tokens) or 1
        span = max(0.0, turn.end - turn.start)
        pos = 0
        for token in tokens:
            start = turn.start + span * pos / total
            pos += len(token) + 1
            out.append(_Token(token, start, turn.start + span * pos / total))
    last = 0.0
    fixed = []
    for item in out:
        start = max(item.start, last)
        end = max(item.end, start)
        fixed.append(_Token(item.text, start, end))
        last = end
    return fixed


def wrap(words: Sequence[str], line_chars: int) -> list[str]:
    """Greedy line filling; a word longer than a line gets a line of its own."""
    lines: list[str] = []
    for word in words:
        if lines and len(lines[-1]) + 1 + len(word) <= line_chars:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines


def _fits(tokens: Sequence[_Token], limits: CueLimits) -> bool:
    if len(wrap([t.text for t in tokens], limits.line_chars)) > limits.max_lines:
        return False
    return tokens[-1].end - tokens[0].start <= limits.max_seconds


def _groups(tokens: list[_Token], limits: CueLimits) -> list[list[_Token]]:
    """Fill each cue greedily; when a cue must be cut, cut after a sentence end if one is near."""
    groups: list[list[_Token]] = []
    current: list[_Token] = []
    for token in tokens:
        if current and not _fits([*current, token], limits):
            cut = len(current)
            for i in range(len(current) - 1, len(current) // 2, -1):
                if current[i - 1].text[-1] in ".?!":
                    cut = i
                    break
            groups.append(current[:cut])
            current = current[cut:]
            if current and not _fits([*current, token], limits):
                groups.append(current)
                current = []
        current.append(token)
    if current:
        groups.append(current)
    return groups


def turn_cues(turn: Turn, limits: CueLimits | None = None, voice: str | None = None) -> list[Cue]:
    """The cues for one turn (empty for a turn with no words)."""
    limits = limits or CueLimits()
    tokens = _timed_tokens(turn)
    if not tokens:
        return []
    groups = _groups(tokens, limits)
    cues: list[Cue] = []
    for i, group in enumerate(groups):
        start, end = group[0].start, group[-1].end
        room = groups[i + 1][0].start if i + 1 < len(groups) else max(end, turn.end)
        if end - start < MIN_CUE_S:
            end = max(end, min(start + MIN_CUE_S, room))
        lines = tuple(wrap([t.text for t in group], limits.line_chars))
        cues.append(Cue(start, end, lines, voice))
    return cues


def timestamp(seconds: float, separator: str) -> str:
    """``HH:MM:SS,mmm`` (SRT) or ``HH:MM:SS.mmm`` (WebVTT)."""
    millis = max(0, round(seconds * 1000))
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, ms = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{ms:03d}"


def _vtt_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _voice_name(voice: str) -> str:
    """A name that cannot end the ``<v ...>`` tag early or break the cue."""
    return re.sub(r"[<>&\s]+", "_", voice).strip("_") or "voice"


def srt_block(number: int, cue: Cue) -> str:
    lines = list(cue.lines)
    if cue.voice is not None:  # SRT has no voice tag: name the speaker in the text
        lines[0] = f"{cue.voice}: {lines[0]}"
    times = f"{timestamp(cue.start, ',')} --> {timestamp(cue.end, ',')}"
    return f"{number}\n{times}\n" + "\n".join(lines) + "\n\n"


def vtt_block(cue: Cue) -> str:
    text = "\n".join(_vtt_escape(line).replace("-->", "->") for line in cue.lines)
    if cue.voice is not None:
        text = f"<v {_voice_name(cue.voice)}>{text}</v>"
    return f"{timestamp(cue.start, '.')} --> {timestamp(cue.end, '.')}\n{text}\n\n"


VTT_HEADER = "WEBVTT\n\n"


def format_cues(cues: Sequence[Cue], fmt: CaptionFormat) -> str:
    """A whole caption file (``flux report --format srt|vtt``)."""
    if fmt == "vtt":
        return VTT_HEADER + "".join(vtt_block(cue) for cue in cues)
    return "".join(srt_block(i, cue) for i, cue in enumerate(cues, 1))


class CaptionWriter:
    """Writes cues to ``stream`` as turns arrive; every cue is whole and flushed.

    Cue starts never go backwards in the file (players read cues in order): a cue that would
    start before the previous one (two speakers overlapping) starts with it instead.
    """

    def __init__(
        self, stream: TextIO, fmt: CaptionFormat, limits: CueLimits | None = None
    ) -> None:
        self.stream = stream
        self.fmt = fmt
        self.limits = limits or CueLimits()
        self.count = 0
        self._last_start = 0.0
        if fmt == "vtt":
            stream.write(VTT_HEADER)
            stream.flush()

    def write_turn(self, turn: Turn, voice: str | None = None) -> None:
        for cue in turn_cues(turn, self.limits, voice):
            start = max(cue.start, self._last_start)
            cue = Cue(start, max(cue.end, start + 0.001), cue.lines, cue.voice)
            self._last_start = start
            self.count += 1
            block = vtt_block(cue) if self.fmt == "vtt" else srt_block(self.count, cue)
            self.stream.write(block)
            self.stream.flush()


class CaptionOutput:
    """A ``display.Output`` for one stream: each finished turn goes to the writer."""

    def __init__(self, writer: CaptionWriter, voice: str | None = None) -> None:
        self.writer = writer
        self.voice = voice

    def update(self, state: ViewState, finished: Sequence[Turn], notices: Sequence[Notice]) -> None:
        for turn in finished:
            self.writer.write_turn(turn, self.voice)

    def tick(self, state: ViewState) -> None:
        """Captions change only when a turn ends."""

    def close(self, state: ViewState, finished: Sequence[Turn], notices: Sequence[Notice]) -> None:
        self.update(state, finished, notices)
