"""Where audio comes from: ``open_source`` picks the reader for a path or for stdin.

Files are decoded by libsndfile block by block (memory stays flat for long files); stdin is
handled in ``streams``. Nothing here prints: notices go through a callback.
"""

from __future__ import annotations

import os
import stat
import sys
from typing import IO

from flux_cli.audio.input_format import InputFormat
from flux_cli.audio.source import (
    BLOCK_FRAMES,
    AudioSource,
    SoundFileSource,
    UnrecognisedFormat,
)
from flux_cli.audio.streams import (
    READ_SIZE,
    Notice,
    is_wav,
    looks_compressed,
    open_stdin,
    raw_stream,
)
from flux_cli.errors import AudioInputError

__all__ = ["AudioSource", "InputFormat", "open_source"]


def _stat(path: str) -> os.stat_result:
    try:
        return os.stat(path)
    except FileNotFoundError:
        raise AudioInputError(f"{path}: no such file") from None
    except OSError as err:
        raise AudioInputError(f"{path}: cannot open ({err.strerror or err})") from None


def _check_file(path: str, st: os.stat_result) -> int:
    if stat.S_ISDIR(st.st_mode):
        raise AudioInputError(f"{path}: is a directory, not an audio file")
    if not os.access(path, os.R_OK):
        raise AudioInputError(f"{path}: permission denied")
    if st.st_size == 0:
        raise AudioInputError(f"{path}: file is empty")
    return st.st_size


def _open_raw_file(
    path: str, size: int, raw: InputFormat, channel: int | None, notice: Notice
) -> AudioSource:
    """A file named with raw flags: raw PCM, unless it turns out to have a header."""
    f = open(path, "rb")  # noqa: SIM115 - closed by the source
    head = f.read(4)
    if is_wav(head) or looks_compressed(head):
        f.close()
        notice(f"{path} has an audio header; ignoring the --input-* flags")
        return SoundFileSource(path, name=path, channel=channel)
    f.seek(0)
    try:
        return raw_stream(
            lambda: f.read(READ_SIZE),
            raw,
            path,
            channel,
            is_live=False,
            total_bytes=size,
            closer=f.close,
        )
    except Exception:
        f.close()
        raise


def _open_pipe(path: str, raw: InputFormat | None, channel: int | None, say: Notice) -> AudioSource:
    """A pipe named by path (a FIFO, ``<(...)``, ``/dev/stdin``): read as it streams, like ``-``."""
    try:
        stream = open(path, "rb", buffering=0)  # noqa: SIM115 - the source closes it
    except OSError as err:
        raise AudioInputError(f"{path}: cannot open ({err.strerror or err})") from None
    try:
        return open_stdin(stream, raw, channel, say, name=path, closer=stream.close)
    except BaseException:
        stream.close()
        raise


def _ignore(_: str) -> None:
    pass


def open_source(
    path: str,
    *,
    raw: InputFormat | None = None,
    channel: int | None = None,
    stdin: IO[bytes] | None = None,
    notice: Notice | None = None,
    block_frames: int = BLOCK_FRAMES,
) -> AudioSource:
    """Open ``path`` (``-`` for stdin) as an audio source, or raise a one-line AudioInputError."""
    say = notice or _ignore
    if path == "-":
        return open_stdin(stdin if stdin is not None else sys.stdin.buffer, raw, channel, say)
    st = _stat(path)
    if stat.S_ISFIFO(st.st_mode) or stat.S_ISCHR(st.st_mode) or stat.S_ISSOCK(st.st_mode):
        return _open_pipe(path, raw, channel, say)
    size = _check_file(path, st)
    if raw is not None and raw.is_set:
        return _open_raw_file(path, size, raw, channel, say)
    try:
        return SoundFileSource(path, name=path, channel=channel, block_frames=block_frames)
    except UnrecognisedFormat:
        from flux_cli.audio.av_source import open_with_av

        return open_with_av(path, channel=channel)
