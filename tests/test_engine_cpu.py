"""Which CPUs need ONNX Runtime's exact int8 kernels for Smart Turn (literal feature sets)."""

from __future__ import annotations

from flux_cli.engine.models.cpu import int8_saturates


def test_exact_int8_kernels_are_asked_for_only_where_the_fast_ones_saturate() -> None:
    assert int8_saturates("x86_64", {"AVX2", "FMA3"})  # Haswell .. Zen 3
    assert not int8_saturates("x86_64", {"AVX2", "AVX512F", "AVX512VNNI"})  # Zen 4, Ice Lake
    assert not int8_saturates("AMD64", {"AVX2", "AVXVNNI"})  # Alder Lake
    assert int8_saturates("x86_64", None)  # unknown: the exact kernels, to be safe
    assert not int8_saturates("aarch64", None)  # the flag is for x86-64 kernels only
