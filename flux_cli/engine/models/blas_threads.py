"""Keep numpy's OpenBLAS to one thread once the engine is loaded.

Why: the mel front ends (Whisper's and Smart Turn's, from faster-whisper) multiply through
numpy's BLAS, and OpenBLAS keeps its worker threads busy-waiting for the next call for a
while after each one. With a stream fed every 80 ms they never sleep: measured on this
project's 2-core machines, every model call then costs twice its wall time in CPU (a 1.5 s
Whisper decode 100 ms wall, 200 ms CPU; Smart Turn 45 ms, 91 ms; see
``benchmarks/results/engine_cost.md``). The matrices are far too small to gain from a second
thread, and concurrent streams already use every core.

``OPENBLAS_NUM_THREADS`` only works before numpy is imported, which a host program may
already have done, so the library's own setter is called at run time (the BLAS found in
this process's memory map; a no-op where there is none, e.g. macOS's Accelerate).
A user's explicit ``OPENBLAS_NUM_THREADS`` or ``OMP_NUM_THREADS`` is left alone.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

# numpy >= 2 ships scipy-openblas (symbols prefixed, 64-bit ints); older wheels plain OpenBLAS.
SETTERS = (
    "scipy_openblas_set_num_threads64_",
    "scipy_openblas_set_num_threads",
    "openblas_set_num_threads64_",
    "openblas_set_num_threads",
)
GETTERS = tuple(name.replace("_set_", "_get_") for name in SETTERS)
USER_SETTINGS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")


def openblas_paths(maps: Iterable[str]) -> list[str]:
    """Shared objects named like OpenBLAS in ``/proc/self/maps`` lines, in load order."""
    found: list[str] = []
    for line in maps:
        parts = line.split(maxsplit=5)
        if len(parts) < 6:
            continue
        path = parts[5].strip()
        if "openblas" in Path(path).name.lower() and ".so" in path and path not in found:
            found.append(path)
    return found


def _loaded(maps_file: str) -> list[ctypes.CDLL]:
    try:
        with open(maps_file, encoding="utf-8", errors="replace") as handle:
            paths = openblas_paths(handle)
    except OSError:
        return []
    libs = []
    for path in paths:
        try:
            libs.append(ctypes.CDLL(path))
        except OSError:
            continue
    return libs


def _first(lib: ctypes.CDLL, names: tuple[str, ...]) -> Any:
    for name in names:
        function = getattr(lib, name, None)
        if function is not None:
            return function
    return None


def limit_openblas(threads: int = 1, *, maps_file: str = "/proc/self/maps") -> int:
    """Set every loaded OpenBLAS to ``threads``; the number of libraries set."""
    if any(os.environ.get(name) for name in USER_SETTINGS):
        return 0
    done = 0
    for lib in _loaded(maps_file):
        setter = _first(lib, SETTERS)
        if setter is not None:
            setter.argtypes = [ctypes.c_int]
            setter.restype = None
            setter(threads)
            done += 1
    return done


def openblas_threads(*, maps_file: str = "/proc/self/maps") -> list[int]:
    """The thread count of every loaded OpenBLAS (for tests and benchmark headers)."""
    counts = []
    for lib in _loaded(maps_file):
        getter = _first(lib, GETTERS)
        if getter is not None:
            getter.argtypes = []
            getter.restype = ctypes.c_int
            counts.append(int(getter()))
    return counts
