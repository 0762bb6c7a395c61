"""The process's standard streams as one object that every command takes.

Commands write the product to ``stdout`` and status to ``stderr`` of the ``Env`` they are
given, so tests (and code that embeds flux) run them in-process with their own streams.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import BinaryIO, TextIO


@dataclass
class Env:
    """The process's streams, injectable so tests (and embedding code) can swap them."""

    stdin: BinaryIO
    stdout: TextIO
    stderr: TextIO
    stdout_isatty: bool

    @classmethod
    def from_process(cls) -> Env:
        return cls(
            stdin=sys.stdin.buffer,
            stdout=sys.stdout,
            stderr=sys.stderr,
            stdout_isatty=sys.stdout.isatty(),
        )
