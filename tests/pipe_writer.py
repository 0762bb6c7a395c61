"""Copies a file to stdout in small flushed pieces: a stand-in for a tool writing to a pipe.

Run as ``python pipe_writer.py PATH [PIECE_BYTES]``. Tests start it as a real subprocess so
the reader sees a real OS pipe filled by another process, as with ``sox ... -t wav -``,
without needing any program other than Python itself.
"""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    path = argv[1]
    piece = int(argv[2]) if len(argv) > 2 else 4096
    out = sys.stdout.buffer
    try:
        with open(path, "rb") as f:
            while data := f.read(piece):
                out.write(data)
                out.flush()
    except BrokenPipeError:  # the reader stopped early: what a real producer would see
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
