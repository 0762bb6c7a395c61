"""Shared test settings: no hub access, and timeouts scaled by one variable on slow machines."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("NO_COLOR", "")
os.environ.pop("NO_COLOR", None)
os.environ.pop("DEEPGRAM_API_KEY", None)
os.environ.pop("FLUX_URL", None)

TIMEOUT_SCALE = float(os.environ.get("FLUX_TEST_TIMEOUT_SCALE", "1"))


def timeout(seconds: float) -> float:
    """A test timeout, scaled by FLUX_TEST_TIMEOUT_SCALE for slow machines."""
    return seconds * TIMEOUT_SCALE
