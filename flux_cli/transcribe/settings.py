"""Everything ``flux transcribe`` was asked to do, resolved and checked before any I/O.

The CLI parses flags into a ``TranscribeSettings``; the library code takes it from there.
Keeping resolution here (URL defaults, output mode, flag ranges) makes those rules plain
functions that tests call directly, and means a bad value fails before we connect.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

from flux_cli.audio.input_format import InputFormat
from flux_cli.errors import UsageError
from flux_cli.protocol import DEFAULT_URL, LISTEN_PATH, ParamError, StreamParams

# The embedded engine's Whisper models (``engine.models.whisper_models.MODELS``), named here so
# that checking a flag imports nothing of the engine.
ASR_MODELS = ("tiny.en", "base", "small")

OutputMode = Literal["auto", "live", "text", "json"]
OUTPUT_MODES: tuple[OutputMode, ...] = ("auto", "live", "text", "json")
Resolved = Literal["live", "text", "json", "none"]
CHUNK_MS_RANGE = (10, 1000)
MAX_RECONNECT = 100
PHONE_RATE = 8000  # G.711's rate: what a phone line carries and a phone recording holds
DEFAULT_WIRE_RATE = 16000  # the protocol notes' recommended rate


def wire_rate_for(input_rate: int) -> int:
    """The rate to send an input at when ``--sample-rate`` is not given.

    Phone-rate audio (8 kHz or less) goes at 8 kHz, everything else at 16 kHz. Upsampling a
    phone recording adds bytes and nothing else, and it hides from the server that the audio
    is narrowband: the local engine's phone path (which removes G.711's offset) only sees
    streams at 8 kHz, and a µ-law recording sent at 16 kHz misses 44.6% of turn ends against
    10.7% at 8 kHz (``benchmarks/results/phone_offset.md``).
    """
    return PHONE_RATE if input_rate <= PHONE_RATE else DEFAULT_WIRE_RATE


@dataclass
class TranscribeSettings:
    source: str
    params: StreamParams = field(default_factory=StreamParams)
    url: str | None = None  # None: the embedded local engine
    api_key: str | None = field(default=None, repr=False)
    chunk_ms: int = 80
    speed: float = 1.0
    force_end_turn: bool = False
    reconnect: int = 3  # attempts after a drop (0: fail at once, as before)
    channel: int | None = None
    raw: InputFormat = field(default_factory=InputFormat)
    output: OutputMode = "auto"
    jsonl: str | None = None
    srt: str | None = None
    vtt: str | None = None
    debug: bool = False
    asr: str | None = None  # the embedded engine's Whisper; None: by the model (embedded_asr)
    # the embedded engine's voice listening: None the call's voices, True also at pauses
    # (--voice-change), False none (--no-voice-change); see engine/models/loader.py
    voice_change: bool | None = None
    # False: --sample-rate was not given, and ``at_input_rate`` picks it from the input
    sample_rate_given: bool = True

    def at_input_rate(self, input_rate: int) -> TranscribeSettings:
        """These settings for an input at ``input_rate``: the wire rate resolved (see
        ``wire_rate_for``) unless the user chose it or the input goes as it is (Ogg/Opus)."""
        params = self.params
        if self.sample_rate_given or params.encoding == "ogg-opus" or params.sample_rate is None:
            return self
        rate = wire_rate_for(input_rate)
        if rate == params.sample_rate:
            return self
        return replace(self, params=replace(params, sample_rate=rate))

    def validate(self) -> None:
        """Raise UsageError (exit 2) on the first bad value, before anything is opened."""
        try:
            self.params.validate()
        except ParamError as exc:
            raise UsageError(str(exc)) from None
        if self.asr is not None and self.asr not in ASR_MODELS:
            raise UsageError(f"--asr must be one of {', '.join(ASR_MODELS)}, got {self.asr!r}")
        if self.params.encoding == "opus":
            raise UsageError(
                "--encoding opus means bare Opus packets, which flux does not make; use "
                "--encoding ogg-opus to send an Ogg/Opus file as it is, or a PCM encoding"
            )
        if not 0 <= self.reconnect <= MAX_RECONNECT:
            raise UsageError(
                f"--reconnect must be between 0 (off) and {MAX_RECONNECT}, got {self.reconnect}"
            )
        lo, hi = CHUNK_MS_RANGE
        if not lo <= self.chunk_ms <= hi:
            raise UsageError(f"--chunk-ms must be between {lo} and {hi}, got {self.chunk_ms}")
        if not self.speed >= 0:
            raise UsageError(f"--speed must be 0 (as fast as possible) or more, got {self.speed}")
        if self.channel is not None and self.channel < 0:
            raise UsageError(f"--channel must be 0 or more, got {self.channel}")
        if self.output not in OUTPUT_MODES:
            raise UsageError(f"--output must be one of {', '.join(OUTPUT_MODES)}")
        if self.jsonl == "-" and self.output != "auto":
            raise UsageError("--jsonl - writes the log to stdout; drop --output or log to a file")
        same = self.srt is not None and self.srt == self.vtt
        if same and not (str(self.srt).endswith(os.sep) or os.path.isdir(str(self.srt))):
            raise UsageError("--srt and --vtt need different files")
        if self.url is not None:
            self.url = normalise_url(self.url)


def resolve_url(url: str | None, api_key: str | None, local: bool) -> str | None:
    """The server to use; None means start the embedded local engine.

    An explicit URL wins; with an API key and no URL we go to Deepgram; with neither (or
    ``--local``) we stay on this machine rather than fail.
    """
    if local:
        return None
    if url:
        return url
    if api_key:
        return DEFAULT_URL
    return None


def normalise_url(url: str) -> str:
    """Check the scheme and fill in ``/v2/listen`` when only a host was given."""
    parts = urlsplit(url)
    if parts.scheme not in ("ws", "wss"):
        raise UsageError(f"--url must start with ws:// or wss://, got {url!r}")
    if not parts.netloc:
        raise UsageError(f"--url has no host: {url!r}")
    path = parts.path if parts.path not in ("", "/") else LISTEN_PATH
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))


def stream_url(base: str, params: StreamParams) -> str:
    """``base`` plus the stream's query string (after any query the user put in the URL)."""
    query = params.to_query()
    joiner = "&" if urlsplit(base).query else "?"
    return f"{base}{joiner}{query}"


def resolve_output(mode: OutputMode, jsonl: str | None, stdout_isatty: bool) -> Resolved:
    """``auto``: the live panel in a terminal, else plain lines; nothing if JSONL has stdout."""
    if jsonl == "-":
        return "none"
    if mode == "auto":
        return "live" if stdout_isatty else "text"
    return mode
