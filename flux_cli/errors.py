"""Failure kinds and their exit codes: one place, so the CLI, the README and tests agree."""

from __future__ import annotations


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
