"""Shared test settings: no hub access, and timeouts scaled by one variable on slow machines."""

from __future__ import annotations

import os
import signal

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("NO_COLOR", "")
os.environ.pop("NO_COLOR", None)
os.environ.pop("DEEPGRAM_API_KEY", None)
os.environ.pop("FLUX_URL", None)

# Started as a background job of a script (or under nohup), the suite inherits SIGINT ignored,
# and so would every flux it starts: a child keeps an ignored signal across exec, and Python
# then never raises KeyboardInterrupt, so the Ctrl-C tests would time out. A handler (not an
# ignore) is reset to the default across exec, so the children hear Ctrl-C as a user's do.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

TIMEOUT_SCALE = float(os.environ.get("FLUX_TEST_TIMEOUT_SCALE", "1"))


def timeout(seconds: float) -> float:
    """A test timeout, scaled by FLUX_TEST_TIMEOUT_SCALE for slow machines."""
    return seconds * TIMEOUT_SCALE
