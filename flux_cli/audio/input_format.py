"""Raw PCM input flags, checked without loading any audio library.

Its own module because the CLI and the settings need it at start-up, and ``flux --help``
must not pay for numpy, soundfile and soxr (see ``benchmarks/cli_startup.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

from flux_cli.errors import UsageError

# Raw sample formats (``--input-format``); sampleformat.py decodes them.
SAMPLE_FORMATS = ("s16le", "s24le", "s32le", "f32le", "f64le", "u8", "mulaw", "alaw")


@dataclass
class InputFormat:
    """Raw PCM flags (``--input-format``, ``--input-rate``, ``--input-channels``)."""

    sample_format: str | None = None
    rate: int | None = None
    channels: int | None = None

    @property
    def is_set(self) -> bool:
        """True when any flag was given, i.e. the user says the input is raw PCM."""
        return any(v is not None for v in (self.sample_format, self.rate, self.channels))

    def resolved(self) -> tuple[str, int, int]:
        """(format, rate, channels), or a UsageError naming the flag that is missing or wrong."""
        if self.sample_format is None:
            raise UsageError(f"raw input needs --input-format ({', '.join(SAMPLE_FORMATS)})")
        if self.sample_format not in SAMPLE_FORMATS:
            raise UsageError(
                f"--input-format must be one of {', '.join(SAMPLE_FORMATS)}, "
                f"got {self.sample_format!r}"
            )
        if self.rate is None:
            raise UsageError("raw input needs --input-rate (e.g. --input-rate 16000)")
        if self.rate <= 0:
            raise UsageError(f"--input-rate must be positive, got {self.rate}")
        channels = 1 if self.channels is None else self.channels
        if channels < 1:
            raise UsageError(f"--input-channels must be at least 1, got {channels}")
        return self.sample_format, self.rate, channels
