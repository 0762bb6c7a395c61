"""flux: a terminal client for Deepgram Flux conversational speech recognition."""

__version__ = "0.1.0"
