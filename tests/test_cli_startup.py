"""``flux --help`` loads no audio or transport library (start-up is measured, not tested,
by ``benchmarks/cli_startup.py``)."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow  # real models or processes: the full tier

HEAVY = ("numpy", "soundfile", "soxr", "websocket", "websockets")

PROBE = """
import contextlib, io, sys
from flux_cli.cli import run
with contextlib.redirect_stdout(io.StringIO()):
    run(["--help"])
    run(["transcribe", "--help"])
    run(["serve", "--help"])
print(",".join(m for m in {heavy!r} if m in sys.modules))
"""


def test_help_imports_no_audio_or_transport_library() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=HEAVY)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == ""


def test_the_light_audio_modules_stay_light() -> None:
    code = "import sys, flux_cli.audio.input_format, flux_cli.transcribe.settings, "
    code += "flux_cli.client.core; "
    code += f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""
