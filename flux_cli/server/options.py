"""``flux serve``'s options and its listening socket, checked before anything loads.

Every flag is checked and the port is bound *before* the models load, so a typo or a port in
use costs a one-line error in milliseconds, not a traceback after seconds of loading.
"""

from __future__ import annotations

import errno
import math
import socket
from collections.abc import Callable
from dataclasses import dataclass

from flux_cli.engine.models.whisper_models import DEFAULT_ASR, MODELS
from flux_cli.errors import ConnectionFailed, UsageError
from flux_cli.protocol import LISTEN_PATH
from flux_cli.server.capacity import default_max_streams, default_workers

IDLE_TIMEOUT_S = 10.0  # no audio or KeepAlive for this long ends a stream (the live service's)
Status = Callable[[str], None]
BACKLOG = 512


@dataclass(frozen=True)
class ServeOptions:
    """``flux serve``'s flags; ``None`` means "derive from the machine"."""

    host: str = "127.0.0.1"
    port: int = 8765
    api_key: str | None = None
    idle_timeout_s: float = IDLE_TIMEOUT_S
    max_streams: int | None = None
    drain_timeout_s: float = 30.0
    workers: int | None = None
    send_timeout_s: float = 10.0
    asr: str = DEFAULT_ASR  # which Whisper (whisper_models.MODELS)
    voice_change: bool | None = None  # None: the call's voices; True: also at pauses; False: off
    log_level: str = "info"
    log_format: str = "text"

    def check(self) -> None:
        """Raise ``UsageError`` (exit 2) for the first flag out of range."""
        from flux_cli.server.logs import FORMATS, LEVELS

        if self.log_level not in LEVELS:
            raise UsageError(f"--log-level must be one of {', '.join(LEVELS)}, "
                             f"got {self.log_level!r}")
        if self.log_format not in FORMATS:
            raise UsageError(f"--log-format must be one of {', '.join(FORMATS)}, "
                             f"got {self.log_format!r}")
        if self.asr not in MODELS:
            raise UsageError(f"--asr must be one of {', '.join(MODELS)}, got {self.asr!r}")
        if not 0 <= self.port <= 65535:
            raise UsageError(f"--port must be between 0 and 65535, got {self.port}")
        for flag, value in (("--idle-timeout", self.idle_timeout_s),
                            ("--send-timeout", self.send_timeout_s)):
            if not (math.isfinite(value) and value > 0):
                raise UsageError(f"{flag} must be a number of seconds above 0, got {value:g}")
        if not (math.isfinite(self.drain_timeout_s) and self.drain_timeout_s >= 0):
            raise UsageError(
                f"--drain-timeout must be 0 or more seconds, got {self.drain_timeout_s:g}")
        if self.max_streams is not None and self.max_streams < 1:
            raise UsageError(f"--max-streams must be at least 1, got {self.max_streams}")
        if self.workers is not None and not 1 <= self.workers <= 256:
            raise UsageError(f"--workers must be between 1 and 256, got {self.workers}")

    @property
    def voice_note(self) -> str:
        """What the listening line adds when ``--voice-change`` or ``--no-voice-change`` is set."""
        from flux_cli.engine.voice_change import startup_note

        return startup_note(self.voice_change)

    @property
    def worker_count(self) -> int:
        return self.workers or default_workers()

    @property
    def stream_limit(self) -> int:
        return self.max_streams or default_max_streams()


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket, or a one-line error: 2 for an unknown host, 4 otherwise."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                   flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError) as exc:
        raise UsageError(f"--host {host!r} is not an address of this machine ({exc})") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(BACKLOG)
    except OSError as exc:
        sock.close()
        reasons = {
            errno.EADDRINUSE: "the port is in use (is another server running there?)",
            errno.EACCES: "permission denied (ports below 1024 need privileges)",
            errno.EADDRNOTAVAIL: "the address is not one of this machine's",
        }
        reason = reasons.get(exc.errno or 0, exc.strerror or str(exc))
        raise ConnectionFailed(f"cannot listen on {host}:{port}: {reason}") from None
    sock.setblocking(False)
    return sock


def listen_url(options: ServeOptions, sock: socket.socket) -> str:
    port = sock.getsockname()[1]
    host = f"[{options.host}]" if ":" in options.host else options.host
    return f"ws://{host}:{port}{LISTEN_PATH}"
