"""One connection's turn state machine: audio and control messages in, server messages out.

The design is ``docs/TURNS.md``. This object never touches a socket or a clock, so the same
audio gives the same turns however it is chunked or paced: audio is consumed in fixed
512-sample VAD windows, and every decision (start, pause judgement, end) happens at a window
boundary and looks only at audio. The one exception is the text of interim ``Update``s, which
the app may compute in the background on a snapshot (:meth:`TurnSession.interim_job`).
"""

from __future__ import annotations

from collections import deque
from dataclasses import replace

import numpy as np

from flux_cli.engine.cadence import TICK, UpdateCadence
from flux_cli.engine.configure import reconfigured
from flux_cli.engine.detector import DEFAULT_CONFIG, Detector, DetectorConfig
from flux_cli.engine.evidence import PauseEvidence, PauseObserver
from flux_cli.engine.interfaces import (
    SAMPLE_RATE,
    VAD_WINDOW,
    Audio,
    SmartTurnModel,
    SpeakerEncoder,
    Transcriber,
    Transcript,
    VadStream,
)
from flux_cli.engine.interim import InterimPlanner, apply_interim
from flux_cli.engine.languages import choice_for
from flux_cli.engine.pause_gate import PauseGate
from flux_cli.engine.speech_tracker import SpeechTracker
from flux_cli.engine.speech_tracker import samples as _samples
from flux_cli.engine.turn import State, Turn
from flux_cli.engine.turn_audio import (
    EMPTY,
    AudioBuffer,
    CachedDecoder,
    InterimJob,
    has_words,
    join_transcripts,
    plain_word,
    without_repeated_head,
    word_key,
)
from flux_cli.engine.voice_change import VoiceWatch, floor_of, level_floor
from flux_cli.engine.voice_profiles import Dips, VoiceProfiles
from flux_cli.protocol import (
    MULTILINGUAL_MODEL,
    ClientMessage,
    Configure,
    ConfigureFailure,
    ConfigureSuccess,
    Connected,
    ErrorMessage,
    Finalize,
    ForceEndTurn,
    KeepAlive,
    ServerMessage,
    StreamParams,
    TurnInfo,
    WarningMessage,
)

VOICE_CHANGE_CONFIDENCE = 0.9  # reported on an EndOfTurn that another voice caused


# After a ForceEndTurn mid-word the next turn decodes from a little before the ended turn's
# last word (Whisper garbles a word heard from its middle) and drops what it repeats.
REHEAR_PAD_S = 0.15
REHEAR_WORDS = 3


def _seconds(samples: int) -> float:
    return samples / SAMPLE_RATE


class TurnSession:
    """The per-connection state machine of ``docs/TURNS.md``.

    ``sync_interim=True`` decodes interim text inside :meth:`feed` (deterministic; tests and
    offline runs). With ``False`` the owner runs :meth:`interim_job` in the background and
    hands the result to :meth:`apply_interim`, so a slow decode never delays decisions.
    """

    def __init__(
        self,
        *,
        vad: VadStream,
        transcriber: Transcriber,
        smart_turn: SmartTurnModel,
        params: StreamParams,
        request_id: str,
        config: DetectorConfig = DEFAULT_CONFIG,
        sync_interim: bool = True,
        observer: PauseObserver | None = None,
        interim_transcriber: Transcriber | None = None,
        speaker: SpeakerEncoder | None = None,
        voice_pauses: bool = False,
    ) -> None:
        self.params = replace(params, keyterm=list(params.keyterm))
        self.request_id = request_id
        self.config = config
        self.detector = Detector(config)
        self.sync_interim = sync_interim
        self._observer = observer
        self._interim_transcriber = interim_transcriber or transcriber
        # ``speaker``: the call's voices (``voice_profiles.py``); ``voice_pauses``: also the
        # pause check (``voice_change.py``), which ends more changes early in a call at a cost
        # on one voice (``benchmarks/results/voice_change_*.md``)
        self._voice = VoiceWatch(speaker if voice_pauses else None, config.voice_change)
        profiles = config.voice_change.profiles
        # flux-general-multi: not by default. One voice switching language has not been
        # measured, and the one sample of it (espeak's English and Spanish voices, in
        # samples/multilingual) had a Spanish sentence split in three; --voice-change still
        # turns both checks on.
        by_default = params.model != MULTILINGUAL_MODEL or voice_pauses
        self._profiles = (VoiceProfiles(profiles) if speaker is not None and profiles is not None
                          and by_default else None)
        self._speaker = speaker
        self._floor = level_floor(config.voice_change) if (
            self._profiles is not None or self._voice.encoder is not None) else None
        self._gate: PauseGate | None = None
        if config.pause_gate is not None:
            self._floor = self._floor or floor_of(config.voice_change)
            self._gate = PauseGate(config.pause_gate,
                                   _samples(config.pause_gate.settle_s) // VAD_WINDOW)
        # Set by the server while the stream is handled as a phone line (8 kHz, or found to
        # be one): the VAD's offset then starts speech far over the floor (``pause_gate.py``).
        # Only there: on full-band speech the VAD is sure of itself, and the same rule on the
        # full-band train splits moved words and cut-offs by a little, not for the better.
        self.phone_line = False
        # the VAD's verdicts over the last block
        self._recent_speech: deque[bool] = deque(
            maxlen=self._profiles.block // VAD_WINDOW if self._profiles is not None else 0)
        self._vad = vad
        self._transcriber = transcriber
        self._smart_turn = smart_turn
        self._seq = 0
        # after a ForceEndTurn while speaking: (where the ended turn's last word starts, it)
        self._after_cut: tuple[int, tuple[str, ...]] | None = None
        self._buffer = AudioBuffer()
        self._decoder = CachedDecoder(self._buffer, transcriber)
        # None: English decodes; flux-general-multi: detect among its languages, hints biased
        self._languages = self._decoder.languages = choice_for(params.model, params.language_hint)
        self._interims = InterimPlanner(
            config, self._buffer, self._decoder, self._interim_transcriber
        )
        self._speech = SpeechTracker(config)
        self._cadence = UpdateCadence()
        self._pending = np.zeros(0, dtype=np.float32)  # < one VAD window, not yet processed
        # the VAD's dips inside speech, and the latest one's (start, onset) until the block
        # after it is compared with the call's voices
        self._dips = Dips()
        self._after_dip: tuple[int, int] | None = None
        self._pos = 0  # samples processed
        self._last_reported = 0
        self.state = State.IDLE
        self.turn_index = 0
        self._turn: Turn | None = None
        self._serial = 0
        self._next_start_try = 0
        self._closed = False

    # ------------------------------------------------------------------ public API

    def start(self) -> list[ServerMessage]:
        """The ``Connected`` message, which takes sequence id 0."""
        return [Connected(request_id=self.request_id, sequence_id=self._next_seq())]

    def feed(self, audio: Audio) -> list[ServerMessage]:
        """Consume 16 kHz float32 audio of any length; return the messages it causes."""
        if self._closed:
            return []
        data = np.asarray(audio, dtype=np.float32).reshape(-1)
        if len(self._pending):
            data = np.concatenate([self._pending, data])
        usable = len(data) - len(data) % VAD_WINDOW
        self._pending = data[usable:].copy()
        if usable == 0:
            return []
        out: list[ServerMessage] = []
        probs = self._vad.process(data[:usable])
        for i, p in enumerate(probs[: usable // VAD_WINDOW]):
            window = data[i * VAD_WINDOW : (i + 1) * VAD_WINDOW]
            self._step(window, float(p), out)
        return out

    def control(self, message: ClientMessage) -> list[ServerMessage]:
        """A control message, applied at the current (window-aligned) audio position."""
        if isinstance(message, ForceEndTurn | Finalize):
            return self._force_end()
        if isinstance(message, Configure):
            return [self._configure(message)]
        if isinstance(message, KeepAlive):
            return []
        return self.close()  # CloseStream

    def close(self) -> list[ServerMessage]:
        """CloseStream: process everything, send the Updates it produces, no EndOfTurn."""
        if self._closed:
            return []
        out: list[ServerMessage] = []
        if len(self._pending):
            rest = self._pending
            self._pending = np.zeros(0, dtype=np.float32)
            padded = np.concatenate([rest, np.zeros(VAD_WINDOW - len(rest), np.float32)])
            probs = self._vad.process(padded)
            self._step(rest, float(probs[0]) if probs else 0.0, out)
        if self.state is State.IDLE and self._speech.candidate is not None:
            self._try_start(out, force=True)
        if self._turn is not None:
            turn = self._turn
            full = turn.eager or turn.decided or self._full_decode(self._pos)
            turn.interim, turn.interim_end = full, self._pos
            out.append(self._turn_info("Update", full, self._current_conf()))
        elif self._pos > self._last_reported or not out:
            out.append(self._turn_info("Update", EMPTY, 0.0))
        self._closed = True
        return out

    def error(self, code: str, description: str) -> ErrorMessage:
        """A fatal Error, numbered in the same sequence as everything else."""
        return ErrorMessage(sequence_id=self._next_seq(), code=code, description=description)

    def interim_job(self) -> InterimJob | None:
        """The next interim decode, when one is due in audio time (``interim.py``).

        The owner may run it anywhere (``job.run()``) and hand the result back through
        :meth:`apply_interim`; a decision on the same slice waits for it rather than decode
        it again. An owner that is behind the audio (a client sending faster than real time)
        simply does not ask: interim text is only for the Updates of a live listener.
        """
        if self._turn is None or self._closed:
            return None
        return self._interims.job(
            self._turn, speaking=self.state is State.SPEAKING, pos=self._pos,
            speech_end=self._speech.last_end, hotwords=tuple(self.params.keyterm),
        )

    def apply_interim(self, job: InterimJob, transcript: Transcript) -> None:
        """Use a background decode for the next Updates, if it still describes this turn."""
        if self._turn is not None:
            apply_interim(self._turn, job, transcript)

    # ------------------------------------------------------------------ the window step

    def _step(self, window: Audio, p: float, out: list[ServerMessage]) -> None:
        start = self._pos
        self._buffer.append(window)
        self._pos += len(window)
        in_pause = self.state in (State.PAUSED, State.EAGER)
        loud, clear = True, False
        if self._floor is not None:
            level = self._floor.step(window)
            if self._gate is not None:
                loud = self._gate.step(level, self._floor.floor())
                clear = self._gate.clear and self.phone_line
        speech = self._speech.step(p, start, self._pos, in_pause=in_pause, loud=loud,
                                   clear=clear)
        if self.state is State.IDLE:
            self._step_idle(start, speech, out)
        elif self.state is State.SPEAKING:
            self._step_speaking(speech, out)
        else:
            self._step_paused(out)
        if self._profiles is not None:
            self._listen_to_voices(speech, p, start, out)
        self._tick(out)
        self._trim()

    def _step_idle(self, start: int, speech: bool, out: list[ServerMessage]) -> None:
        tracker = self._speech
        if speech and tracker.candidate is None:
            self._next_start_try = 0
        tracker.track_burst(speech, start, self._pos)
        if self._pos >= self._next_start_try and tracker.burst_ready(speech, self._pos):
            self._try_start(out, force=False)

    def _try_start(self, out: list[ServerMessage], *, force: bool) -> None:
        """Start a turn if the candidate burst decodes to words (a cough does not)."""
        onset = self._speech.candidate
        assert onset is not None
        c = self.config
        # A short word's VAD onset comes late when the word starts quietly (measured on a
        # -45 dBFS telephone "Yes.": 0.2 s of padding decoded empty, 0.4 s decoded it).
        short = self._speech.candidate_speech < _samples(c.min_start_speech_s)
        pad = c.short_word_pad_s if short else c.start_pad_s
        decode_start = max(0, onset - _samples(pad))
        if self._after_cut is not None:  # not the words a ForceEndTurn ended, but its last
            decode_start = max(decode_start, self._after_cut[0])
        end = min(self._pos, self._speech.last_end + _samples(c.tail_pad_s))
        text = self._decode(decode_start, end)
        repeats = self._after_cut[1] if self._after_cut is not None else None
        if not has_words(without_repeated_head(text, repeats).text):
            self._next_start_try = self._pos + TICK
            return
        self._serial += 1
        self._turn = Turn(
            serial=self._serial,
            start=onset,
            decode_start=decode_start,
            interim=text,
            interim_end=end,
            interim_asked=self._pos,
            repeats=repeats,
        )
        self._after_cut = None
        self._speech.candidate = None
        self.state = State.SPEAKING
        out.append(self._turn_info("StartOfTurn", text, self.detector.speaking()))
        if not force and not self._speech.in_speech:
            self._step_speaking(False, out)

    def _step_speaking(self, speech: bool, out: list[ServerMessage]) -> None:
        turn = self._turn
        assert turn is not None
        if self._voice.due(self._pos, speaking=speech) and self._voice_changed(out):
            return
        if not speech:
            self.state = State.PAUSED
            turn.pause_end = self._speech.last_end
            self._step_paused(out)
            return
        if self._pos - turn.decode_start > _samples(self.config.max_decode_s):
            self._commit_head(turn)
        self._sync_interim()

    def _sync_interim(self) -> None:
        """In sync mode interim decodes run here, on the same audio-time schedule."""
        if not self.sync_interim:
            return
        job = self.interim_job()
        if job is not None:
            self.apply_interim(job, job.run())

    def _step_paused(self, out: list[ServerMessage]) -> None:
        turn = self._turn
        assert turn is not None
        c = self.config
        if self._speech.resumed:
            self._resume(out)
            return
        silence = self._speech.silence(self._pos)
        if turn.line is None:
            self._sync_interim()
        if turn.line is None and silence >= _samples(c.decide_after_s):
            self._judge(turn)
        if turn.line is None:
            if silence >= _samples(self.params.effective_eot_timeout_ms / 1000):
                self._end(out, "timeout")
            return
        conf = self._current_conf()
        eager = self.params.eager_eot_threshold
        if eager is not None and self.state is State.PAUSED and conf >= eager:
            turn.eager = turn.decided
            self.state = State.EAGER
            out.append(self._turn_info("EagerEndOfTurn", turn.eager or EMPTY, conf))
        if conf >= self.params.effective_eot_threshold:
            self._end(out, "model")
        elif silence >= _samples(self.params.effective_eot_timeout_ms / 1000):
            self._end(out, "timeout")

    def _judge(self, turn: Turn) -> None:
        """The pause's decision point: one full decode and one Smart Turn call."""
        speech_end = min(self._pos, self._speech.last_end + _samples(self.config.tail_pad_s))
        decided = self._full_decode(speech_end)
        if not has_words(decided.text) and has_words(turn.interim.text):
            # Whisper's no-speech filter can reject a whole quiet turn that an earlier, shorter
            # decode heard: an EndOfTurn keeps the words it had rather than going empty.
            decided = turn.interim
        p_smart = 0.5  # neutral: a model that gives it no weight does not pay for the call
        if self.detector.model.uses_smart_turn:
            window_start = max(
                turn.decode_start, self._pos - _samples(self.config.smart_turn_window_s)
            )
            p_smart = self._smart_turn.predict(self._buffer.slice(window_start, self._pos))
        turn.decided = decided
        turn.interim, turn.interim_end = decided, speech_end
        turn.evidence = PauseEvidence(
            smart_turn=p_smart,
            transcript=decided.text,
            words=tuple(decided.words),
            speech_s=_seconds(self._speech.last_end - turn.start),
            language=decided.languages[0] if decided.languages else None,
            sentence_end=decided.sentence_end,
        )
        turn.line = self.detector.judge(turn.evidence)
        if self._observer is not None:
            speech_end_s = _seconds(self._speech.last_end)
            self._observer.judged(speech_end_s, _seconds(self._pos), turn.evidence)

    def _resume(self, out: list[ServerMessage]) -> None:
        turn = self._turn
        assert turn is not None
        if self._observer is not None and turn.evidence is not None:
            self._observer.resumed(_seconds(self._pos))
        onset = self._pos - self._speech.run
        self._voice.resumed(turn.pause_end, onset, turn.start)
        if self.state is State.EAGER and turn.eager is not None:
            out.append(self._turn_info("TurnResumed", turn.eager, self.detector.speaking()))
        turn.eager = None
        turn.decided = None
        turn.evidence = None
        turn.line = None
        self.state = State.SPEAKING

    def _voice_changed(self, out: list[ServerMessage]) -> bool:
        """Another voice after the pause: the turn ended there, and this is the next one."""
        watch = self._voice
        onset, pause_end, window = watch.onset, watch.pause_end, watch.window()
        turn = self._turn
        if window is None or onset is None or pause_end is None or turn is None:
            watch.clear()
            return False
        (b0, b1), (a0, a1) = window
        before, after = self._buffer.slice(b0, b1), self._buffer.slice(a0, min(a1, self._pos))
        if not self._heard_as_voice(after):
            watch.clear()
            return False
        if not watch.changed(before, after) or self.params.effective_eot_threshold >= 1.0:
            return False
        self._hand_over(pause_end + _samples(self.config.tail_pad_s), onset, out)
        return True

    def _listen_to_voices(self, speech: bool, p: float, start: int,
                          out: list[ServerMessage]) -> None:
        """Every ``hop_s`` of audio, the last ``block_s`` joins the call's voices if it is
        speech; inside a turn (every ``judge_hop_s`` once the voices are known), a block that
        sounds like the call's other voice rather than the turn's own voice ends the turn at
        the block's start (or the VAD's dip just before it), pause or not
        (``voice_profiles.py``). The first block after a dip is judged as soon as it is heard,
        and a block with a dip in it or just before it at ``dip_margin`` if one is set."""
        profiles, speaker = self._profiles, self._speaker
        assert profiles is not None and speaker is not None
        recent = self._recent_speech
        recent.append(speech)
        dip = self._dips.step(p, start)
        if dip is not None and self._turn is not None:
            self._after_dip = dip
        if self._after_dip is not None and self._dip_changed(out):
            return
        if len(recent) < (recent.maxlen or 0):
            return
        on_grid = self._pos % profiles.hop == 0
        if not (on_grid or self._judged_between_grid()) or not self._last_block_is_speech():
            return
        change = self._pos - profiles.block
        audio = self._buffer.slice(change, self._pos)
        if not self._heard_as_voice(audio):
            return
        vector = speaker.voice_vector(audio)
        if on_grid:
            profiles.add(self._pos, vector)
        turn = self._turn
        if (self.state is not State.SPEAKING or turn is None
                or turn.start > change
                or change <= turn.decode_start  # a long turn's head was frozen past it
                or self.params.effective_eot_threshold >= 1.0):
            return
        # The new voice began at a dip of the VAD's near the block, if there is one: the first
        # from a block before it (the old voice's last blocks were not judged another voice)
        # to the block's end (a block judged between the grid's may hold the old voice's last
        # words, then a 0.1 s gap, then the new voice).
        dip = self._dips.earliest(max(change - profiles.block, turn.decode_start), self._pos)
        if not profiles.other_voice(vector, change, since=turn.start, dip=dip is not None):
            return
        if dip is None:
            self._hand_over(change, change, out)
        else:
            self._hand_over_at_dip(dip, out)

    def _judged_between_grid(self) -> bool:
        """Is a block ending here judged (not kept) although it is off the ``hop_s`` grid? Only
        inside a turn, once the call's voices are known, every ``judge_hop_s``."""
        profiles = self._profiles
        assert profiles is not None
        judge = profiles.judge_hop
        return (judge != profiles.hop and self._pos % judge == 0 and profiles.voices is not None
                and self.state is State.SPEAKING)

    def _dip_changed(self, out: list[ServerMessage]) -> bool:
        """The first ``block_s`` of speech after a dip (or a pause) inside a turn, compared with
        the call's voices as soon as it is heard (the ``hop_s`` grid would find it up to
        ``hop_s`` later): another voice ends the turn at the dip."""
        profiles, speaker, turn = self._profiles, self._speaker, self._turn
        assert profiles is not None and speaker is not None and self._after_dip is not None
        speech_end, onset = self._after_dip
        if self._pos < onset + profiles.block:
            return False
        self._after_dip = None
        if (self.state is not State.SPEAKING or turn is None
                or self._pos % profiles.hop == 0  # the grid's own block: it is judged there
                or self._judged_between_grid()
                or profiles.voices is None or self.params.effective_eot_threshold >= 1.0
                or turn.start > speech_end
                or onset <= turn.decode_start or not self._last_block_is_speech()):
            return False
        audio = self._buffer.slice(onset, onset + profiles.block)
        if not self._heard_as_voice(audio):
            return False
        block = speaker.voice_vector(audio)
        if not profiles.other_voice(block, speech_end, since=turn.start, dip=True):
            return False
        self._hand_over_at_dip((speech_end, onset), out)
        return True

    def _heard_as_voice(self, audio: Audio) -> bool:
        """Is this speech heard well above the call's floor (``level_floor.py``), not babble?"""
        by_db = self.config.voice_change.over_floor_db
        return self._floor is None or by_db is None or self._floor.above(audio, by_db)

    def _last_block_is_speech(self) -> bool:
        """At least ``min_speech`` of the last ``block_s`` was speech (the VAD's verdicts)."""
        assert self._profiles is not None
        recent = self._recent_speech
        return sum(recent) >= self._profiles.config.min_speech * len(recent)

    def _hand_over_at_dip(self, dip: tuple[int, int], out: list[ServerMessage]) -> None:
        """The new voice began where the dip ``(start, onset)`` ended: the old turn keeps its
        words up to the dip's start plus the tail pad, never past the onset."""
        start, onset = dip
        self._hand_over(min(start + _samples(self.config.tail_pad_s), onset), onset, out)

    def _hand_over(self, end: int, onset: int, out: list[ServerMessage]) -> None:
        """Another voice took over at ``onset``: this turn ends with its words up to ``end``,
        and the new voice's speech starts the next turn."""
        turn = self._turn
        assert turn is not None
        turn.eager = None
        decided = self._full_decode(end)
        if not has_words(decided.text) and has_words(turn.interim.text):
            decided = turn.interim  # as at a decision point: an EndOfTurn keeps the words heard
        turn.decided = decided
        conf = max(self.params.effective_eot_threshold, VOICE_CHANGE_CONFIDENCE)
        self._end(out, "model", conf=conf)
        self._speech.candidate, self._speech.candidate_speech = onset, self._pos - onset
        self._try_start(out, force=True)

    def _end(self, out: list[ServerMessage], trigger: str, conf: float | None = None) -> None:
        turn = self._turn
        assert turn is not None
        self._voice.clear()
        self._after_dip = None
        conf = self._current_conf() if conf is None else conf
        if turn.eager is not None:
            final = turn.eager
        elif turn.decided is not None:
            final = turn.decided
        else:
            speaking = self.state is State.SPEAKING
            end = self._pos if speaking else self._speech.last_end + _samples(
                self.config.tail_pad_s
            )
            final = self._full_decode(min(end, self._pos))
        out.append(self._turn_info("EndOfTurn", final, conf, trigger=trigger))
        self.turn_index += 1
        self._turn = None
        self.state = State.IDLE
        self._speech.candidate = None
        self._decoder.forget()

    # ------------------------------------------------------------------ controls

    def _force_end(self) -> list[ServerMessage]:
        out: list[ServerMessage] = []
        if self.state is State.IDLE and self._speech.candidate is not None:
            self._try_start(out, force=True)
        if self._turn is None:
            out.append(
                WarningMessage(
                    sequence_id=self._next_seq(),
                    code="FORCE_END_TURN_NO_ACTIVE_TURN",
                    description="ForceEndTurn received but no turn is active",
                )
            )
            return out
        speaking = self.state is State.SPEAKING
        self._end(out, "manual")
        final = out[-1]
        if speaking and isinstance(final, TurnInfo) and final.words:
            last = final.words[-1]  # maybe cut through: the next turn hears all of it again
            start = self._pos if last.start is None else _samples(last.start - REHEAR_PAD_S)
            tail = tuple(word_key(w.word) for w in final.words[-REHEAR_WORDS:])
            self._after_cut = (max(0, min(start, self._pos)), tail)
        return out

    def _configure(self, message: Configure) -> ConfigureSuccess | ConfigureFailure:
        """Validate like the query string; on any error nothing changes."""
        self.params, reply = reconfigured(self.params, message, self.request_id, self._next_seq())
        if isinstance(reply, ConfigureSuccess):
            self._decoder.forget()  # keyterms may have changed: decodes are stale
            self._languages = self._decoder.languages = choice_for(
                self.params.model, self.params.language_hint)
        return reply

    # ------------------------------------------------------------------ helpers

    def _tick(self, out: list[ServerMessage]) -> None:
        if not self._cadence.due(self._pos):
            return
        if self._cadence.update_needed():
            turn = self._turn
            if turn is None:
                out.append(self._turn_info("Update", EMPTY, 0.0))
            else:
                out.append(self._turn_info("Update", turn.interim, self._current_conf()))
        self._cadence.advance(self._pos)

    def _current_conf(self) -> float:
        turn = self._turn
        if turn is None or self.state is State.SPEAKING:
            return self.detector.speaking() if turn is not None else 0.0
        silence_s = _seconds(self._speech.silence(self._pos))
        if turn.line is None:
            return self.detector.undecided(silence_s)
        return self.detector.paused(turn.line, silence_s)

    def _turn_info(
        self, event: str, text: Transcript, conf: float, *, trigger: str | None = None
    ) -> TurnInfo:
        if event != "Update":
            self._cadence.event_sent()
        turn = self._turn
        window_start = self._cadence.tick_start if turn is None else turn.start
        if turn is not None:
            text = without_repeated_head(text, turn.repeats)
        self._last_reported = self._pos
        return TurnInfo(
            request_id=self.request_id,
            sequence_id=self._next_seq(),
            event=event,
            turn_index=self.turn_index,
            audio_window_start=_seconds(window_start),
            audio_window_end=_seconds(self._pos),
            transcript=text.text,
            words=[plain_word(w) for w in text.words],
            end_of_turn_confidence=conf,
            trigger=trigger,
            # flux-general-multi's fields: what this turn's decode detected, the hints in force
            languages=None if self._languages is None else list(text.languages),
            languages_hinted=None if self._languages is None
            else list(self.params.language_hint),
        )

    def _full_decode(self, end: int) -> Transcript:
        """The whole turn up to ``end``: the committed head plus a decode of the rest."""
        turn = self._turn
        assert turn is not None
        return join_transcripts(turn.committed, self._decode(turn.decode_start, end))

    def _decode(self, start: int, end: int) -> Transcript:
        return self._decoder.decode(start, end, tuple(self.params.keyterm))

    def _commit_head(self, turn: Turn) -> None:
        """A turn longer than Whisper's window: freeze its head's text and move on."""
        head = self._decode(turn.decode_start, self._pos)
        turn.committed = join_transcripts(turn.committed, head)
        turn.decode_start = self._pos

    def _trim(self) -> None:
        # a turn may start from up to the larger pad before its onset (``_try_start``); keeping
        # less made a short word's decode depend on when the buffer was last trimmed
        pad = _samples(max(self.config.start_pad_s, self.config.short_word_pad_s))
        if self._turn is not None:
            keep = self._turn.decode_start
        elif self._speech.candidate is not None:
            keep = self._speech.candidate - pad
        else:
            keep = self._pos - pad - VAD_WINDOW
        if self._profiles is not None:  # the next block of speech to embed
            keep = min(keep, self._pos - self._profiles.block)
        self._buffer.trim_before(keep)

    def _next_seq(self) -> int:
        seq = self._seq
        self._seq += 1
        return seq

