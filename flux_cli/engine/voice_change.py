"""Did another voice start after a pause? In a mono call that ends the previous turn.

When speech resumes inside a turn, the first ``check_s`` of the new speech is compared with
the last ``reference_s`` of the turn's speech before the pause (``SpeakerEncoder.similarity``:
a speaker embedding each, less the mean of other voices). Below ``threshold`` the voices
differ: the turn ended at the pause, and the new speech is the next turn. Decided in audio
time, once per resume, so it costs two embeddings per resumed pause and nothing while one
voice speaks on. A change with no pause at all (overlap) is not seen here: the VAD has to hear
a gap first; ``voice_profiles.py`` watches the speech itself once the call has two voices.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flux_cli.engine.interfaces import SAMPLE_RATE, VAD_WINDOW, Audio, SpeakerEncoder
from flux_cli.engine.level_floor import LevelFloor
from flux_cli.engine.voice_profiles import ProfileConfig


def startup_note(voice_change: bool | None) -> str:
    """What a start-up line adds after the model's name: nothing for the default (the call's
    voices), else what ``--voice-change`` / ``--no-voice-change`` changed."""
    if voice_change is None:
        return ""
    return "; a new voice ends a turn, after a pause too" if voice_change else (
        "; one voice: a new voice does not end a turn")


def env_choice(value: str | None) -> bool | None:
    """``FLUX_VOICE_CHANGE``: 1/true/yes/on as ``--voice-change``, 0/false/no/off as
    ``--no-voice-change``, anything else the default (the call's voices)."""
    text = (value or "").strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    return None


@dataclass(frozen=True)
class VoiceChangeConfig:
    check_s: float = 0.48  # new speech heard before comparing (the decision's latency)
    min_check_s: float = 0.32  # a resume shorter than this is not compared
    reference_s: float = 1.5  # the turn's speech before the pause that stands for its voice
    min_reference_s: float = 0.5
    threshold: float = 0.236  # similarity below this: another voice (voice_change --calibrate)
    # speech this far above the call's floor at least, to be compared or kept as a voice: not
    # babble under one voice (``level_floor.py``; None: any speech). 5 dB on train splits
    # (``benchmarks.voice_floor``): noisy10's babble alone 2% of its blocks kept, its one
    # voice 8% dropped, and no clean call's voices changed
    over_floor_db: float | None = 5.0
    floor_s: float = 8.0  # the floor: the last this much audio's 32 ms windows ...
    floor_percentile: float = 10.0  # ... at this percentile of their levels
    # mid-speech: the call's voices so far (``voice_profiles.py``); None: pauses only
    profiles: ProfileConfig | None = field(default_factory=ProfileConfig)


def level_floor(config: VoiceChangeConfig) -> LevelFloor | None:
    """The call's floor that a voice must be heard above, if ``over_floor_db`` asks for one."""
    if config.over_floor_db is None:
        return None
    return floor_of(config)


def floor_of(config: VoiceChangeConfig) -> LevelFloor:
    """The call's floor as ``config`` measures it (``floor_s``, ``floor_percentile``)."""
    return LevelFloor(round(config.floor_s * SAMPLE_RATE / VAD_WINDOW), config.floor_percentile)


@dataclass
class _Pending:
    pause_end: int  # where the turn's speech stopped (absolute samples)
    onset: int  # where the new speech began
    turn_start: int


class VoiceWatch:
    """One connection's watch over resumed pauses (pure: the caller passes the audio)."""

    def __init__(self, encoder: SpeakerEncoder | None, config: VoiceChangeConfig) -> None:
        self.encoder = encoder
        self.config = config
        self._pending: _Pending | None = None
        self.last_similarity: float | None = None

    def resumed(self, pause_end: int, onset: int, turn_start: int) -> None:
        """Speech came back in a turn: compare once ``check_s`` of it has been heard."""
        if self.encoder is not None:
            self._pending = _Pending(pause_end, onset, turn_start)

    def clear(self) -> None:
        self._pending = None

    def due(self, pos: int, *, speaking: bool) -> bool:
        """Time to compare: enough new speech, or the new speech stopped after enough of it."""
        p = self._pending
        if p is None:
            return False
        heard = pos - p.onset
        if heard >= _samples(self.config.check_s):
            return True
        if not speaking:
            if heard >= _samples(self.config.min_check_s):
                return True
            self._pending = None  # a blip of a resume: nothing to compare
        return False

    def window(self) -> tuple[tuple[int, int], tuple[int, int]] | None:
        """The two slices to compare: (before the pause, after it); None if too short."""
        p = self._pending
        if p is None:
            return None
        c = self.config
        before = (max(p.turn_start, p.pause_end - _samples(c.reference_s)), p.pause_end)
        after = (p.onset, p.onset + _samples(c.check_s))
        if before[1] - before[0] < _samples(c.min_reference_s):
            return None
        return before, after

    def changed(self, before: Audio, after: Audio) -> bool:
        """Compare the two voices (and forget the pending check)."""
        self._pending = None
        assert self.encoder is not None
        similarity = self.encoder.similarity(before, after)
        self.last_similarity = similarity
        return similarity < self.config.threshold

    @property
    def onset(self) -> int | None:
        return None if self._pending is None else self._pending.onset

    @property
    def pause_end(self) -> int | None:
        return None if self._pending is None else self._pending.pause_end


def _samples(seconds: float) -> int:
    return round(seconds * SAMPLE_RATE)
