"""A stream's audio at the engine's 16 kHz, handled as a phone line where it is one.

Why: phone audio (8 kHz, G.711 as a rule) reaches the VAD best with the codec's offset
removed at 8 kHz and then resampled (``dc_block.py``). A phone call someone else upsampled
before sending it (another client, a recording stored at 16 kHz) arrives with the offset and
with 16-bit rounding noise above 4 kHz, where a phone line has nothing; Silero VAD v6 hears
both (``tel8k`` train turns reaching the VAD's onset: 109 of 112 at 8 kHz, 104 at 16 kHz with
the offset removed there, 109 when taken back to 8 kHz first: ``docs/TURNS.md``). So a stream
above 8 kHz that ``BandCheck`` rules band-limited is taken back down to 8 kHz and handled from
the verdict on exactly as a phone line is; every other stream is resampled as before, bit for
bit. Pure, no I/O.

The verdict needs a second of sound, and a call's first words are in it: a quiet "I am" at
the start of an upsampled call was lost on the direct path (stop 36). So the output is held
back until the verdict, at most ``HOLD_S`` from the stream's first sound (and never more than
``HOLD_MAX_S`` of the stream): a verdict within it picks one path for the whole stream from
its first sample. Counting from the first sound (stop 41) lets a recording open with seconds
of digital silence, as VoIP calls and phone systems' recordings do, and still be a phone line
from its first word. The price is wall-clock delay in the stream's first second of sound only
(audio time, and so every decision, is unchanged; in digital silence there is nothing to
report); a stream still without a verdict then goes on the direct way and switches at the
verdict, as before.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from flux_cli.audio.band_check import MIN_RATE, BandCheck
from flux_cli.audio.dc_block import DcBlocker
from flux_cli.audio.resample import StreamResampler

PHONE_RATE = 8000  # at or below: a phone line
HELD_S = 1.0  # the phone path's output kept until the verdict (its delay is milliseconds)
# Both paths' output held from the stream's start until the verdict, at most this long after
# the first sound: a verdict comes after 1 s of sound, and this leaves half a second for
# digital silence between the first words.
HOLD_S = 1.5
HOLD_MAX_S = 10.0  # and at most this much of the stream, sound or not

_EMPTY = np.zeros(0, dtype=np.float32)


class PhoneLine:
    """An 8 kHz (or slower) stream: its offset removed, then resampled to ``out_rate``."""

    def __init__(self, rate: int, out_rate: int) -> None:
        self._blocker = DcBlocker(rate)
        self._resampler = StreamResampler(rate, out_rate)

    def process(self, block: NDArray[np.float32]) -> NDArray[np.float32]:
        if block.size == 0:
            return _EMPTY
        return np.asarray(self._resampler.process(self._blocker.process(block)), np.float32)

    def flush(self) -> NDArray[np.float32]:
        return np.asarray(self._resampler.flush(), dtype=np.float32)


class Downsampled:
    """A faster stream taken down to 8 kHz and handled as a ``PhoneLine``."""

    def __init__(self, rate: int, out_rate: int) -> None:
        self._down = StreamResampler(rate, PHONE_RATE)
        self._line = PhoneLine(PHONE_RATE, out_rate)

    def process(self, block: NDArray[np.float32]) -> NDArray[np.float32]:
        return self._line.process(np.asarray(self._down.process(block), np.float32))

    def flush(self) -> NDArray[np.float32]:
        tail = self._line.process(np.asarray(self._down.flush(), np.float32))
        return np.concatenate([tail, self._line.flush()])


class MaybePhoneLine:
    """A stream above 8 kHz: resampled as it is, unless it turns out to be a phone line.

    From the first sample both paths run and their output is held back, until the band
    check's verdict or until ``HOLD_S`` after the stream's first sound (``HOLD_MAX_S`` into
    the stream at most), whichever is first. A verdict within the hold picks the path the
    whole stream goes by: "band-limited" the phone path, "full band" plain resampling, bit for
    bit. After the hold, the output goes the direct way; a later "band-limited" goes on from
    the phone path at the very sample the direct path had reached, so the timeline has no gap
    and no repeat. Where the hold ends and where the verdict falls are samples of the stream,
    not of how it was cut into frames."""

    def __init__(self, rate: int, out_rate: int, hold_s: float = HOLD_S,
                 hold_max_s: float = HOLD_MAX_S) -> None:
        self.check = BandCheck(rate)
        self._direct: StreamResampler | None = StreamResampler(rate, out_rate)
        self._phone: Downsampled | None = Downsampled(rate, out_rate)
        self._holding = True
        self._hold_after_sound = round(hold_s * rate)
        self._hold_max = round(hold_max_s * rate)
        self._taken = 0  # input samples taken in the hold
        self._direct_held: list[NDArray[np.float32]] = []  # the direct path's, in the hold
        self._held: list[NDArray[np.float32]] = []  # the phone path's latest output
        self._held_size = 0
        self._held_max = round(HELD_S * out_rate)
        self._phone_made = 0  # samples the phone path has produced
        self._emitted = 0  # samples handed out
        self._skip = 0  # phone samples still to drop (it lagged the direct path at the switch)

    @property
    def phone(self) -> bool:
        """Handled as a phone line (from the verdict on)."""
        return self._direct is None

    def process(self, block: NDArray[np.float32]) -> NDArray[np.float32]:
        x = np.asarray(block, dtype=np.float32).reshape(-1)
        if self._direct is None:
            return self._from_phone(x)
        if self._phone is None:
            return self._emit(self._direct.process(x))
        if self._holding:
            return self._in_hold(x)
        before = self.check.feed(x)
        head, tail = x[:before], x[before:]
        out = self._emit(np.asarray(self._direct.process(head), np.float32))
        self._hold(self._phone.process(head))
        if self.check.verdict is None:
            return out
        if not self.check.verdict:
            self._phone, self._held = None, []
            return np.concatenate([out, self._emit(self._direct.process(tail))])
        return np.concatenate([out, self._switch(), self._from_phone(tail)])

    def flush(self) -> NDArray[np.float32]:
        if self._direct is not None:
            held = self._release_direct()
            return np.concatenate([held, self._emit(self._direct.flush())])
        assert self._phone is not None
        return self._drop_skipped(self._phone.flush())

    def release(self) -> NDArray[np.float32]:
        """End the hold now (a control message is applied where the audio has reached): what
        the direct path holds goes out, and the stream goes on as after the hold."""
        if self._direct is None or not self._holding:
            return _EMPTY
        self._holding = False
        return self._release_direct()

    def _hold_end(self) -> int:
        """The input sample where the hold ends, as far as is known yet."""
        if self.check.sound_from is None:
            return self._hold_max
        return min(self._hold_max, self.check.sound_from + self._hold_after_sound)

    def _in_hold(self, x: NDArray[np.float32]) -> NDArray[np.float32]:
        """Both paths take ``x`` up to the hold's end; nothing goes out before a verdict. Before
        the first sound the check takes less than a hold at a time, so it never takes samples
        past the end the first sound will set."""
        assert self._direct is not None and self._phone is not None
        while self._taken < self._hold_end():
            room = self._hold_end() - self._taken
            if self.check.sound_from is None:
                room = min(room, self._hold_after_sound - self.check.block)
            head, x = x[:room], x[room:]
            if head.size == 0:
                return _EMPTY
            self._taken += head.size
            self.check.feed(head)
            self._direct_held.append(np.asarray(self._direct.process(head), np.float32))
            self._hold(self._phone.process(head), trim=False)
            if self.check.verdict:  # the phone path from the stream's first sample
                self._direct, self._direct_held = None, []
                held, self._held, self._held_size = self._held, [], 0
                return np.concatenate([self._emit(np.concatenate(held)), self._from_phone(x)])
            if self.check.verdict is False:
                self._phone, self._held = None, []
                return np.concatenate([self._release_direct(), self.process(x)])
        self._holding = False
        return np.concatenate([self._release_direct(), self.process(x)])

    def _release_direct(self) -> NDArray[np.float32]:
        held, self._direct_held = self._direct_held, []
        return self._emit(np.concatenate(held)) if held else _EMPTY

    def _emit(self, out: NDArray[np.float32]) -> NDArray[np.float32]:
        self._emitted += out.size
        return np.asarray(out, dtype=np.float32)

    def _hold(self, made: NDArray[np.float32], trim: bool = True) -> None:
        self._phone_made += made.size
        self._held.append(made)
        self._held_size += made.size
        if trim and self._held_size > 2 * self._held_max:  # now and then, not at every frame
            kept = np.concatenate(self._held)[-self._held_max:]
            self._held, self._held_size = [kept], kept.size

    def _switch(self) -> NDArray[np.float32]:
        """From the direct path to the phone path at sample ``_emitted``."""
        held = np.concatenate(self._held) if self._held else _EMPTY
        first = self._phone_made - held.size  # the held output's first sample
        self._direct, self._held = None, []
        if self._emitted >= self._phone_made:
            self._skip = self._emitted - self._phone_made
            return _EMPTY
        return self._emit(held[max(0, self._emitted - first):])

    def _from_phone(self, x: NDArray[np.float32]) -> NDArray[np.float32]:
        assert self._phone is not None
        return self._drop_skipped(self._phone.process(x))

    def _drop_skipped(self, made: NDArray[np.float32]) -> NDArray[np.float32]:
        if self._skip:
            dropped = min(self._skip, made.size)
            self._skip -= dropped
            made = made[dropped:]
        return self._emit(made)


def to_engine_rate(rate: int, out_rate: int) -> PhoneLine | MaybePhoneLine | StreamResampler:
    """How a stream at ``rate`` reaches ``out_rate``: a phone line, a faster stream that may be
    one, or (between 8 kHz and ``MIN_RATE``, where there is no band above the phone band to
    tell by) plain resampling."""
    if rate <= PHONE_RATE:
        return PhoneLine(rate, out_rate)
    if rate < MIN_RATE:
        return StreamResampler(rate, out_rate)
    return MaybePhoneLine(rate, out_rate)
