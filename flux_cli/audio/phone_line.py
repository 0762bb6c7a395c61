"""A stream's audio at the engine's 16 kHz, handled as a phone line where it is one.

Why: phone audio (8 kHz, G.711 as a rule) reaches the VAD best with the codec's offset
removed at 8 kHz and then resampled (``dc_block.py``). A phone call someone else upsampled
before sending it (another client, a recording stored at 16 kHz) arrives with the offset and
with 16-bit rounding noise above 4 kHz, where a phone line has nothing; Silero VAD v6 hears
both (``tel8k`` train turns reaching the VAD's onset: 109 of 112 at 8 kHz, 104 at 16 kHz with
the offset removed there, 109 when taken back to 8 kHz first: ``docs/TURNS.md``). So a stream
above 8 kHz that ``BandCheck`` rules band-limited is taken back down to 8 kHz and handled from
the verdict on exactly as a phone line is; every other stream is resampled as before, bit for
bit. Pure, no I/O, no added delay before the verdict.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from flux_cli.audio.band_check import MIN_RATE, BandCheck
from flux_cli.audio.dc_block import DcBlocker
from flux_cli.audio.resample import StreamResampler

PHONE_RATE = 8000  # at or below: a phone line
HELD_S = 1.0  # the phone path's output kept until the verdict (its delay is milliseconds)

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

    Until the band check's verdict the phone path runs beside the direct one (its output held
    back); on "band-limited" the output goes on from the phone path at the very sample the
    direct path had reached, so the timeline has no gap and no repeat. On "full band" the
    phone path is dropped and the stream is what plain resampling makes of it."""

    def __init__(self, rate: int, out_rate: int) -> None:
        self.check = BandCheck(rate)
        self._direct: StreamResampler | None = StreamResampler(rate, out_rate)
        self._phone: Downsampled | None = Downsampled(rate, out_rate)
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
            return self._emit(self._direct.flush())
        assert self._phone is not None
        return self._drop_skipped(self._phone.flush())

    def _emit(self, out: NDArray[np.float32]) -> NDArray[np.float32]:
        self._emitted += out.size
        return np.asarray(out, dtype=np.float32)

    def _hold(self, made: NDArray[np.float32]) -> None:
        self._phone_made += made.size
        self._held.append(made)
        self._held_size += made.size
        if self._held_size > 2 * self._held_max:  # trimmed now and then, not at every frame
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
