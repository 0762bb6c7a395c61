"""The Flux ``/v2/listen`` protocol's constants, its error types and the wire form.

Both the client and the local server build on this package, so a message that one side
writes is, by construction, what the other side reads. Nothing here touches a socket.
Sources: Deepgram's AsyncAPI description of ``/v2/listen``, and what the live service was
seen to do beyond it (choices where they leave room are in the README and docs/TURNS.md).
"""

from __future__ import annotations

import json
from typing import Any, Protocol

DEFAULT_URL = "wss://api.deepgram.com/v2/listen"
LISTEN_PATH = "/v2/listen"

MODELS = ("flux-general-en", "flux-general-multi")
MULTILINGUAL_MODEL = "flux-general-multi"
# flux-general-multi's languages; a locale tag (en-GB, pt-BR) maps to its base code.
LANGUAGES = ("en", "es", "fr", "de", "hi", "ru", "pt", "ja", "it", "nl")
RAW_ENCODINGS = ("linear16", "linear32", "mulaw", "alaw")
ENCODINGS = (*RAW_ENCODINGS, "opus", "ogg-opus")
SAMPLE_RATES = (8000, 16000, 24000, 44100, 48000)
EOT_THRESHOLD_RANGE = (0.5, 1.0)
EAGER_EOT_THRESHOLD_RANGE = (0.3, 0.9)
EOT_TIMEOUT_MS_RANGE = (500, 60000)
MAX_KEYTERMS = 100
DEFAULT_EOT_THRESHOLD = 0.7
DEFAULT_EOT_TIMEOUT_MS = 5000

TURN_EVENTS = ("Update", "StartOfTurn", "EagerEndOfTurn", "TurnResumed", "EndOfTurn")
EOT_TRIGGERS = ("model", "timeout", "manual")


THRESHOLD_KEYS = ("eot_threshold", "eager_eot_threshold", "eot_timeout_ms")


class ProtocolError(ValueError):
    """A message or parameter that does not follow the protocol."""


class ParamError(ProtocolError):
    """A query parameter that is unknown or out of range (the live service answers 400)."""



class _Message(Protocol):
    def to_dict(self) -> dict[str, Any]: ...


def dumps(message: _Message) -> str:
    """Serialise any message to the compact JSON text frame that goes on the wire."""
    return json.dumps(message.to_dict(), separators=(",", ":"), ensure_ascii=False)
