"""numpy's OpenBLAS runs on one thread once the engine is loaded (its idle threads spin)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from flux_cli.engine.models.blas_threads import limit_openblas, openblas_paths

MAPS = [
    "7f1c2a000000-7f1c2a200000 r-xp 00000000 08:01 123 "
    "/venv/lib/python3.11/site-packages/numpy.libs/libscipy_openblas64_-32a4b2a6.so\n",
    "7f1c2a200000-7f1c2a300000 r--p 00200000 08:01 123 "
    "/venv/lib/python3.11/site-packages/numpy.libs/libscipy_openblas64_-32a4b2a6.so\n",
    "7f1c2b000000-7f1c2b100000 r-xp 00000000 08:01 456 /usr/lib/libgomp.so.1\n",
    "7f1c2c000000-7f1c2c001000 rw-p 00000000 00:00 0\n",
    "7ffd1000-7ffd2000 rw-p 00000000 00:00 0 [stack]\n",
]


def test_openblas_is_found_once_among_the_mapped_libraries() -> None:
    assert openblas_paths(MAPS) == [
        "/venv/lib/python3.11/site-packages/numpy.libs/libscipy_openblas64_-32a4b2a6.so"
    ]


@pytest.mark.parametrize("name", ["OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"])
def test_a_users_own_thread_setting_is_left_alone(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(name, "2")
    assert limit_openblas(1) == 0


def test_loading_the_engine_leaves_numpys_blas_on_one_thread() -> None:
    """In a fresh process with no thread settings: numpy starts with a thread per core (where
    the machine has several), the loaded engine leaves it one."""
    script = (
        "import numpy\n"
        "from flux_cli.engine.models.blas_threads import openblas_threads\n"
        "from flux_cli.engine.models.loader import load_engine\n"
        "before = openblas_threads()\n"
        "load_engine()\n"
        "print(before, openblas_threads())\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_NUM_THREADS",
                                                            "OMP_NUM_THREADS")}
    env["HF_HUB_OFFLINE"] = "1"
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                          text=True, timeout=120, check=True)
    before, after = done.stdout.strip().split("] [")
    assert before.strip("[]"), "numpy's wheel ships OpenBLAS: it must be found"
    assert after.strip("[]").split(", ") == ["1"] * len(before.strip("[]").split(", "))
