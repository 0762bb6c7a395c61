"""Failure kinds and their exit codes: one place, so the CLI, the README and tests agree."""

from __future__ import annotations

from collections.abc import Sequence


class FluxError(Exception):
    """Base of every failure we expect; carries its exit code and a one-line message."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UsageError(FluxError):
    """Bad flag or parameter value, caught before connecting."""

    exit_code = 2


class AudioInputError(FluxError):
    """The input cannot be read: missing, corrupt, empty, or an unrecognised stream."""

    exit_code = 3


class ConnectionFailed(FluxError):
    """Could not connect, the handshake was refused (401/400/403...), or the socket dropped."""

    exit_code = 4


class ServerError(FluxError):
    """The server sent a fatal ``Error`` message."""

    exit_code = 5


class EngineUnavailable(FluxError):
    """The local engine cannot start: its extra is not installed or a model file is missing."""

    exit_code = 6


class MissingExtra(FluxError):
    """An optional extra is not installed (e.g. matplotlib for ``flux report --plot``)."""

    exit_code = 6


class LogInputError(FluxError):
    """``flux report``: the log is missing, unreadable, or holds no Flux messages."""

    exit_code = 3


class OutputFailed(FluxError):
    """The product could not be written: ``--jsonl`` or stdout hit a full disk or an I/O error."""

    exit_code = 7


INTERRUPTED_EXIT_CODE = 130
MIN_SECRET_CHARS = 4  # shorter "keys" would blank out ordinary words


def redact(text: str, secrets: Sequence[str | None]) -> str:
    """``text`` with every secret (API key) replaced by ``***``."""
    for secret in secrets:
        if secret and len(secret) >= MIN_SECRET_CHARS:
            text = text.replace(secret, "***")
    return text


def error_line(message: str, secrets: Sequence[str | None] = (), label: str | None = None) -> str:
    """The one-line form of every error we print: ``flux: error: [label: ]message``, on one
    line, keys redacted. The single stream, batch, channels and parallel runs all use it."""
    if label is not None and not message.startswith(f"{label}:"):
        message = f"{label}: {message}"
    return "flux: error: " + " ".join(redact(message, secrets).split())
# How to get the local engine, named once for every message that needs it. Smart Turn's model
# file ships inside pipecat-ai, installed without its ~300 MB of dependencies (never imported).
SMART_TURN_HINT = "pip install --no-deps 'pipecat-ai==1.14.0'"
INSTALL_HINT = f"pip install 'flux-cli[local]' && {SMART_TURN_HINT}"
