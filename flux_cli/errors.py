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


INTERRUPTED_EXIT_CODE = 130

EXIT_CODES = {
    0: "success",
    1: "unexpected internal error (run with --debug for the traceback)",
    UsageError.exit_code: "usage: bad flag or parameter value",
    AudioInputError.exit_code: "input: missing, corrupt, empty or unrecognised audio (or log)",
    ConnectionFailed.exit_code: "connection: cannot connect, handshake refused, or dropped",
    ServerError.exit_code: "server error: the server sent a fatal Error message",
    EngineUnavailable.exit_code: "an optional extra is missing: [local] (engine), [report] (plot)",
    INTERRUPTED_EXIT_CODE: "interrupted (Ctrl-C)",
}
