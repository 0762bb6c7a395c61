"""When interim (``Update``-text) decodes are due, over which slice, and how they are used.

All in audio time, so the schedule is the same however fast the audio arrives; the server
only decides *whether* to run a due decode (not when it is behind the audio). While speech
goes on: once per ``interim_interval_s`` of new audio, over at most the last
``interim_window_s`` (a long turn's interims stay bounded; the earlier words are kept as
they were). Once the speech has stopped for ``tail_pad_s``: the whole turn up to its speech
end, which is exactly the slice the pause's decision point decodes, so that decode is
shared through the ``CachedDecoder`` rather than repeated.
"""

from __future__ import annotations

from flux_cli.engine.detector import DetectorConfig
from flux_cli.engine.interfaces import SAMPLE_RATE, Transcriber, Transcript
from flux_cli.engine.turn import Turn
from flux_cli.engine.turn_audio import (
    AudioBuffer,
    CachedDecoder,
    InterimJob,
    has_words,
    join_transcripts,
)


class InterimPlanner:
    """One connection's interim schedule (pure: positions in, jobs out)."""

    def __init__(self, config: DetectorConfig, buffer: AudioBuffer, decoder: CachedDecoder,
                 transcriber: Transcriber) -> None:
        self.config = config
        self.buffer = buffer
        self.decoder = decoder  # its transcriber decodes the slices decisions use
        self.transcriber = transcriber  # the (cheaper) one for text that is soon replaced

    def job(self, turn: Turn, *, speaking: bool, pos: int, speech_end: int,
            hotwords: tuple[str, ...]) -> InterimJob | None:
        if turn.decided is not None:
            return None  # the pause is judged: its decode is the text until speech resumes
        span = self._slice(turn, speaking, pos, speech_end)
        if span is None:
            return None
        start, end = span
        turn.interim_asked = end
        languages = self.decoder.languages
        if not self.decoder.claim((start, end, hotwords, languages)):
            return None  # decoded already, or in flight
        head = turn.committed
        if start > turn.decode_start:
            start_s = start / SAMPLE_RATE
            kept = [w for w in turn.interim.words if w.end is not None and w.end <= start_s]
            head = Transcript(text=" ".join(w.word for w in kept), words=kept)
        return InterimJob(
            turn_serial=turn.serial, start=start, end=end, audio=self.buffer.slice(start, end),
            offset_s=start / SAMPLE_RATE, hotwords=hotwords,
            # the slice a decision will use is decoded as the decision would decode it, so
            # the turns are the same whether this decode ran or not (real time or --fast)
            transcriber=self.transcriber if speaking else self.decoder.transcriber,
            decoder=self.decoder, head=head, languages=languages,
        )

    def _slice(self, turn: Turn, speaking: bool, pos: int,
               speech_end: int) -> tuple[int, int] | None:
        c = self.config
        if speaking:
            if pos - max(turn.interim_asked, turn.interim_end) < _samples(c.interim_interval_s):
                return None
            return max(turn.decode_start, pos - _samples(c.interim_window_s)), pos
        end = speech_end + _samples(c.tail_pad_s)
        if pos < end or turn.interim_asked == end:
            return None
        return turn.decode_start, end


def apply_interim(turn: Turn, job: InterimJob, transcript: Transcript) -> None:
    """A finished interim decode becomes the turn's Update text, if it still describes it."""
    if turn.serial != job.turn_serial or turn.decided is not None:
        return
    if job.end <= turn.interim_end:
        return
    if not has_words(transcript.text) and has_words(turn.interim.text):
        return  # Whisper rejected a quiet stretch an earlier decode heard: keep the words
    turn.interim = join_transcripts(job.head, transcript)
    turn.interim_end = job.end


def _samples(seconds: float) -> int:
    return round(seconds * SAMPLE_RATE)
