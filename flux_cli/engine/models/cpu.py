"""Does this CPU make ONNX Runtime's int8 kernels inexact? (Smart Turn is an int8 graph.)

On x86-64 without VNNI (AVX2 only: Intel before Ice Lake / Cascade Lake, AMD before Zen 4)
ORT multiplies uint8 by int8 with ``vpmaddubsw``, whose int16 sums saturate: Smart Turn then
scores a finished sentence 0.37 instead of 0.95. ORT's ``session.x64quantprecision`` avoids
that with uint8 x uint8 kernels, which are exact but 1.5x slower (96 -> 144 ms a call on a
VNNI CPU), so it is asked for only where it is needed.
"""

from __future__ import annotations

import platform
from collections.abc import Iterable

X86_64 = ("x86_64", "amd64")
VNNI = ("AVX512VNNI", "AVXVNNI")  # numpy's names for the CPUID bits


def int8_saturates(machine: str, features: Iterable[str] | None) -> bool:
    """True where ORT's fast uint8 x int8 path loses precision (features unknown: assume so)."""
    if machine.lower() not in X86_64:
        return False
    if features is None:
        return True
    return not set(features) & set(VNNI)


def cpu_features() -> set[str] | None:
    """The CPU's features as numpy read them from CPUID at import (None: not available)."""
    try:
        from numpy._core._multiarray_umath import __cpu_features__
    except ImportError:
        return None
    return {name for name, present in __cpu_features__.items() if present}


def exact_int8_needed() -> bool:
    return int8_saturates(platform.machine(), cpu_features())
