"""The models behind the engine's interfaces (VAD, Whisper, Smart Turn) and their loader.

Importing this package is cheap (the models' packages load in ``loader.py``), so a server can
announce what it is about to load before it forks or loads anything.
"""

LOADING_LINE = "loading the local engine (Whisper tiny.en, Silero VAD, Smart Turn)…"


def loading_line(asr: str = "tiny.en") -> str:
    """What a server says before it loads (the model name is known before anything loads)."""
    return LOADING_LINE.replace("tiny.en", asr)
