"""Where ``--jsonl`` / ``--srt`` / ``--vtt`` write: a file, or a directory of per-input files.

A directory (existing, or named with a trailing ``/``) means one file per input, named after
it, whether the shell's glob matched one input or many: ``flux transcribe *.wav --jsonl logs/``
must not depend on how many files the glob found.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence

from flux_cli.errors import UsageError
from flux_cli.transcribe.settings import TranscribeSettings


def is_directory(target: str) -> bool:
    return target.endswith(os.sep) or os.path.isdir(target)


def make_dir(flag: str, directory: str) -> None:
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create {flag} {directory}: {exc.strerror or exc}") from None


def per_input_paths(directory: str, labels: Sequence[str], ext: str) -> list[str]:
    """One file per input in ``directory``, named after the input (``-2``... if names clash)."""
    used: set[str] = set()
    paths = []
    for label in labels:
        stem = "stdin" if label == "-" else os.path.splitext(os.path.basename(label))[0]
        name, n = f"{stem}.{ext}", 1
        while name in used:
            n += 1
            name = f"{stem}-{n}.{ext}"
        used.add(name)
        paths.append(os.path.join(directory, name))
    return paths


def file_for(flag: str, target: str | None, source: str, ext: str) -> str | None:
    """The file one input writes ``flag`` to: ``target`` itself, or its file in a directory."""
    if target is None or target == "-" or not is_directory(target):
        return target
    make_dir(flag, target)
    return per_input_paths(target, [source], ext)[0]


def per_input_targets(settings: TranscribeSettings) -> TranscribeSettings:
    """One input's settings with each directory target replaced by that input's file in it."""
    return dataclasses.replace(
        settings,
        jsonl=file_for("--jsonl", settings.jsonl, settings.source, "jsonl"),
        srt=file_for("--srt", settings.srt, settings.source, "srt"),
        vtt=file_for("--vtt", settings.vtt, settings.source, "vtt"),
    )
