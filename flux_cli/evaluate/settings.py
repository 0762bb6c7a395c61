"""Everything ``flux eval`` was asked to do, checked before any file is read or byte sent."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal
from urllib.parse import urlsplit

from flux_cli.errors import UsageError
from flux_cli.protocol import ParamError, StreamParams

EvalFormat = Literal["text", "json"]
SWEEP = (0.5, 0.6, 0.7, 0.8, 0.9)
DEFAULT_TARGET = 0.05


def parse_thresholds(text: str | None, sweep: bool) -> list[float | None]:
    """``"0.6,0.7"`` (or ``--sweep``) as sorted thresholds; none given: the server's default."""
    if sweep and text:
        raise UsageError("--sweep and --eot-threshold both choose thresholds; give one")
    if sweep:
        return list(SWEEP)
    if not text:
        return [None]
    try:
        values = sorted({float(part) for part in text.split(",") if part.strip()})
    except ValueError:
        raise UsageError(f"--eot-threshold takes numbers like 0.6,0.7,0.8, got {text!r}") from None
    if not values:
        raise UsageError("--eot-threshold needs at least one value")
    return list(values)


@dataclass
class EvalSettings:
    calls: list[str]
    params: StreamParams = field(default_factory=StreamParams)
    url: str | None = None  # None: the embedded local engine
    api_key: str | None = field(default=None, repr=False)
    speaker_channel: int | None = None
    labels: str | None = None
    speaker: str | None = None
    thresholds: list[float | None] = field(default_factory=lambda: [None])
    replay: bool = True
    speed: float = 1.0
    jobs: int = 1
    target: float = DEFAULT_TARGET
    format: EvalFormat = "text"
    plot: str | None = None
    compare: str | None = None
    worst: int = 10
    min_pause: float = 0.2
    yes: bool = False
    debug: bool = False
    voice_change: bool | None = None  # the local engine's voice listening, as transcribe's

    def params_at(self, threshold: float | None) -> StreamParams:
        return replace(self.params, eot_threshold=threshold)

    def validate(self) -> None:
        if not self.calls:
            raise UsageError("give at least one call recording")
        for threshold in self.thresholds:
            try:
                self.params_at(threshold).validate()
            except ParamError as exc:
                raise UsageError(str(exc)) from None
        if self.jobs < 1:
            raise UsageError(f"--jobs must be 1 or more, got {self.jobs}")
        if not self.speed >= 0:
            raise UsageError(f"--speed must be 0 (as fast as possible) or more, got {self.speed}")
        if self.speaker_channel is not None and self.speaker_channel < 0:
            raise UsageError(f"--speaker-channel must be 0 or more, got {self.speaker_channel}")
        if self.speaker is not None and self.labels is None:
            raise UsageError("--speaker names a labelled speaker; give --labels too")
        if self.format not in ("text", "json"):
            raise UsageError(f"--format must be text or json, got {self.format!r}")
        if self.plot is not None and not self.plot.lower().endswith(".png"):
            raise UsageError(f"--plot writes a PNG; name it *.png, got {self.plot!r}")
        if not 0.05 <= self.min_pause <= 5:
            raise UsageError(f"--min-pause must be between 0.05 and 5 s, got {self.min_pause}")
        if self.worst < 0:
            raise UsageError(f"--worst must be 0 or more, got {self.worst}")
        if self.url is not None:
            from flux_cli.transcribe.settings import normalise_url

            self.url = normalise_url(self.url)


def run_name(url: str | None) -> str:
    """How a server is called in tables and plots."""
    if url is None:
        return "local"
    host = urlsplit(url).netloc
    return "deepgram" if host.endswith("deepgram.com") else host


def is_paid(url: str | None) -> bool:
    """Deepgram's service bills by audio minute: ask before sending."""
    return run_name(url) == "deepgram"
