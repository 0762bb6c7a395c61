"""Where speech is, window by window: VAD hysteresis, blips, the last speech end, and the
burst of speech that may start the next turn.

Pure bookkeeping in absolute sample positions (16 kHz); the turn state machine
(``session.py``) asks it questions and never looks at VAD probabilities itself.
"""

from __future__ import annotations

from flux_cli.engine.detector import DetectorConfig
from flux_cli.engine.interfaces import SAMPLE_RATE


def samples(seconds: float) -> int:
    return round(seconds * SAMPLE_RATE)


class SpeechTracker:
    """VAD probabilities in, speech positions out (``docs/TURNS.md``: "How the code does it")."""

    def __init__(self, config: DetectorConfig) -> None:
        self.config = config
        self.in_speech = False
        self.voiced = False  # the VAD's own verdict (its hysteresis), before any level gate
        self.run = 0  # consecutive speech samples, up to now
        self.last_end = 0  # where speech was last heard (a blip in a pause does not count)
        self.candidate: int | None = None  # onset of a burst that may start a turn
        self.candidate_speech = 0  # speech samples heard in that burst

    def step(self, p: float, start: int, end: int, *, in_pause: bool, loud: bool = True,
             clear: bool = False) -> bool:
        """One VAD window [start, end) with speech probability ``p``; is it speech?

        ``loud``: the pause gate's verdict (``pause_gate.py``); a voiced window under it is
        taken for babble in the caller's pause. ``clear``: the level is far over the call's
        floor, and the VAD's offset is then enough to start speech (phone-band speech the VAD
        hesitates over)."""
        c = self.config
        self.voiced = p >= c.vad_onset or ((self.voiced or clear) and p >= c.vad_offset)
        speech = self.voiced and loud
        self.in_speech = speech
        if speech:
            self.run += end - start
            # In a pause, a blip shorter than resume_speech_s (a click, a breath) is ignored.
            if not in_pause or self.resumed:
                self.last_end = end
        else:
            self.run = 0
        return speech

    @property
    def resumed(self) -> bool:
        """Enough speech in a row to end a pause."""
        return self.run >= samples(self.config.resume_speech_s)

    def silence(self, pos: int) -> int:
        """Samples since speech was last heard."""
        return pos - self.last_end

    def track_burst(self, speech: bool, start: int, pos: int) -> None:
        """While no turn is active: follow the burst that may start one."""
        c = self.config
        if speech:
            if self.candidate is None:
                self.candidate = start
                self.candidate_speech = 0
            self.candidate_speech += pos - start
            if pos - self.candidate > samples(c.max_decode_s):
                self.candidate, self.candidate_speech = start, 0  # noise, not words
        elif self.candidate is not None and self.silence(pos) >= samples(c.candidate_drop_s):
            self.candidate = None

    def burst_ready(self, speech: bool, pos: int) -> bool:
        """Has the burst enough speech to try starting a turn?

        A short word ("Hi.", "No.") never reaches ``min_start_speech_s``: once its burst has
        been silent ``short_word_wait_s`` it may start a turn on its own (its decode decides:
        a click decodes empty).
        """
        if self.candidate is None:
            return False
        c = self.config
        heard = self.candidate_speech
        short_word_done = (
            not speech
            and heard >= samples(c.min_word_speech_s)
            and self.silence(pos) >= samples(c.short_word_wait_s)
        )
        return heard >= samples(c.min_start_speech_s) or short_word_done
