"""Is a stream above 8 kHz a phone line upsampled by someone else?

Why: the engine hears a phone line best at 8 kHz with the codec's offset removed
(``dc_block.py``, ``phone_line.py``). A phone recording upsampled before it reaches us
(another client's resampler, a recording stored at 16 kHz) keeps the offset and gains 16-bit
rounding noise where a phone line has nothing, and that was the costliest way a phone call
arrived (``tel8k`` test calls as a µ-law recording sent at 16 kHz: 44.6% of turn ends missed,
51.8% WER, against 10.7% and 13.1% at 8 kHz: ``benchmarks/results/phone_offset.md``).
Treating every stream as a phone line would cost full-band speech its upper band, so only a
stream with nothing above the phone band is.

The check: over the first second of audio louder than ``MIN_LEVEL_DB``, the power over
4.5-7.5 kHz that rises above that band's own floor, against all the power over 2-3.3 kHz.
Upsampled 8 kHz audio has only its resampler's leakage up there, over a floor of 16-bit
rounding or dither that stays where it is while the speech comes and goes. The floor (the
band's lower quartile over the judged blocks) is what made the plain ratio depend on the
level: 10 dB quieter, sox's dither alone stood at -27 dB against the phone band, where
full-band speech lies (stop 41). Taken off, the ``tel8k`` calls upsampled by soxr, sox
(dithered) and ffmpeg, at 16 and 48 kHz, at their level and 10, 20 and 30 dB quieter, lie
at -36.7 dB or lower; full-band speech with or without background noise at -27.4 dB or
higher (every benchmark set's calls and the committed test clips and samples at the same
four levels; the lowest, espeak's Hindi voice). The threshold leaves more room on the
full-band side: a phone line missed is handled as before, a full-band stream taken for one
would lose its upper band. A steady sound up there louder than the phone band (a tone, a
hiss) rises no more than a dither does, so a stream is band-limited only if its upper band
also holds little at all: under ``PLAIN_BELOW_DB`` against the phone band, floor and all
(upsampled phone calls: -27.2 dB or lower, at any of those levels). The verdict is given
once, at a sample that does not depend on how the stream is cut into frames. Pure numpy.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

BLOCK_S = 0.032
JUDGED_S = 1.0  # this much audio above ``MIN_LEVEL_DB`` before the verdict
MIN_LEVEL_DB = -70.0
HIGH_HZ = (4500.0, 7500.0)  # above any phone band (8 kHz sampling: nothing above 4 kHz)
MID_HZ = (2000.0, 3300.0)  # inside every phone band
HIGH_FLOOR_PERCENTILE = 25.0  # the high band's floor: rounding, dither or hiss, not speech
NARROW_BELOW_DB = -33.0  # the upper band's rise against the phone band
PLAIN_BELOW_DB = -20.0  # and all of the upper band against the phone band
MIN_RATE = 11025  # below this there is no band above 4.5 kHz to look at


class BandCheck:
    """Samples in; ``verdict`` True (band-limited), False (full band) or None (not yet)."""

    def __init__(self, sample_rate: int) -> None:
        self.block = max(1, round(sample_rate * BLOCK_S))
        freqs = np.fft.rfftfreq(self.block, 1.0 / sample_rate)
        top = min(HIGH_HZ[1], 0.45 * sample_rate)
        self._high_band = (freqs >= HIGH_HZ[0]) & (freqs < top)
        self._mid_band = (freqs >= MID_HZ[0]) & (freqs < MID_HZ[1])
        self._taper = np.hanning(self.block)
        self._min_power = 10.0 ** (MIN_LEVEL_DB / 10.0)
        self._needed = round(JUDGED_S / BLOCK_S)
        self._high_powers: list[float] = []
        self._mid_sum = 0.0
        self._pending = np.zeros(0, dtype=np.float64)
        self._blocks = 0  # whole blocks taken in so far
        self.sound_from: int | None = None  # the sample where the first block of sound began
        self.verdict: bool | None = None
        self.ratio_db: float | None = None  # the high band's rise over the middle, at the verdict
        self.plain_db: float | None = None  # all of the high band over the middle

    def feed(self, x: NDArray[np.float32]) -> int:
        """Take ``x`` in; how many of its samples came before the verdict (all of them while
        there is none yet, none once it was given)."""
        if self.verdict is not None:
            return 0
        joined = np.concatenate([self._pending, np.asarray(x, dtype=np.float64).reshape(-1)])
        whole = len(joined) // self.block
        for i in range(whole):
            self._judge(joined[i * self.block:(i + 1) * self.block])
            if self.verdict is not None:
                self._pending = np.zeros(0, dtype=np.float64)
                # the verdict falls at the end of this block; part of it may be from before x
                return max(0, (i + 1) * self.block - (len(joined) - len(x)))
        self._pending = joined[whole * self.block:]
        return len(x)

    def _judge(self, block: NDArray[np.float64]) -> None:
        self._blocks += 1
        if float(np.mean(np.square(block))) < self._min_power:
            return
        if self.sound_from is None:
            self.sound_from = (self._blocks - 1) * self.block
        psd = np.square(np.abs(np.fft.rfft(block * self._taper)))
        self._high_powers.append(float(np.mean(psd[self._high_band])))
        self._mid_sum += float(np.mean(psd[self._mid_band]))
        if len(self._high_powers) == self._needed:
            high = np.asarray(self._high_powers)
            rise = float(np.sum(np.maximum(high - np.percentile(high, HIGH_FLOOR_PERCENTILE),
                                           0.0)))
            mid = self._mid_sum + 1e-30
            self.ratio_db = 10.0 * float(np.log10((rise + 1e-30) / mid))
            self.plain_db = 10.0 * float(np.log10((float(np.sum(high)) + 1e-30) / mid))
            self.verdict = self.ratio_db < NARROW_BELOW_DB and self.plain_db < PLAIN_BELOW_DB
