"""Copies a file to stdout in small flushed pieces: a stand-in for a tool writing to a pipe.

Run as ``python pipe_writer.py PATH [PIECE_BYTES [STALL_AFTER_BYTES STALL_S]]``. Tests start
it as a real subprocess so the reader sees a real OS pipe filled by another process, as with
``sox ... -t wav -``, without needing any program other than Python itself. With a stall, the
writer keeps the pipe open and quiet for ``STALL_S`` seconds after ``STALL_AFTER_BYTES``: a
live source that has nothing to say, so the reader is blocked in a read when the session ends.
"""

from __future__ import annotations

import sys
import time


def main(argv: list[str]) -> int:
    path = argv[1]
    piece = int(argv[2]) if len(argv) > 2 else 4096
    stall_at = int(argv[3]) if len(argv) > 3 else -1
    stall_s = float(argv[4]) if len(argv) > 4 else 0.0
    out = sys.stdout.buffer
    written = 0
    try:
        with open(path, "rb") as f:
            while data := f.read(piece if stall_at < 0 else min(piece, stall_at - written)):
                out.write(data)
                out.flush()
                written += len(data)
                if written == stall_at:
                    time.sleep(stall_s)
                    stall_at = -1
    except BrokenPipeError:  # the reader stopped early: what a real producer would see
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
