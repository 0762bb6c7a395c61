"""The audio source types: mono float32 blocks plus what a user and a pacer need to know.

Every source hands out mono float32 blocks, whatever its format or channel count, so the
rest of the pipeline never sees a file format. Every failure is an ``AudioInputError`` with
a one-line message.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator

import numpy as np
import soundfile as sf
from numpy.typing import NDArray

from flux_cli.audio.ogg import OggError, iter_pages
from flux_cli.audio.truncation import truncation
from flux_cli.errors import AudioInputError

BLOCK_FRAMES = 4096
_XING = "Xing stream size off"  # libmpg123, when an MP3 holds less than its header says


class AudioSource(ABC):
    """Mono float32 blocks plus what a user and a pacer need to know about the input."""

    def __init__(
        self,
        *,
        name: str,
        sample_rate: int,
        channels: int,
        duration_s: float | None,
        is_live: bool,
        kind: str,
        channel: int | None,
    ) -> None:
        if channel is not None and not 0 <= channel < channels:
            raise AudioInputError(
                f"{name}: channel {channel} is out of range; the input has {channels} "
                f"channel{'s' if channels != 1 else ''} (0..{channels - 1})"
            )
        self._closers: list[Callable[[], None]] = []
        self.name = name
        self.sample_rate = sample_rate
        self.channels = channels
        self.duration_s = duration_s
        self.is_live = is_live
        self.channel = channel
        length = (
            "live" if is_live else "length unknown" if duration_s is None else f"{duration_s:.1f} s"
        )
        self.description = f"{name}: {kind}, {sample_rate} Hz, {channels} ch, {length}"

    @abstractmethod
    def _frames(self) -> Iterator[NDArray[np.float32]]:
        """Blocks of shape (frames, channels)."""

    def blocks(self) -> Iterator[NDArray[np.float32]]:
        """Mono blocks: the chosen channel, or the mean of all channels."""
        produced = False
        for frames in self._frames():
            if len(frames) == 0:
                continue
            produced = True
            yield self._mono(frames)
        if not produced:
            raise AudioInputError(f"{self.name}: contains no audio")

    def _mono(self, frames: NDArray[np.float32]) -> NDArray[np.float32]:
        if self.channel is not None:
            return np.ascontiguousarray(frames[:, self.channel])
        if frames.shape[1] == 1:
            return np.ascontiguousarray(frames[:, 0])
        return frames.mean(axis=1, dtype=np.float32)

    def ogg_opus_bytes(self) -> Iterator[bytes] | None:
        """Raw Ogg pages when the input is Ogg/Opus (for ``--encoding ogg-opus``), else None."""
        return None

    def close(self) -> None:
        """Release the file; stdin is left open (it is not ours)."""
        for closer in self._closers:
            closer()
        self._closers.clear()

    def add_closer(self, closer: Callable[[], None]) -> None:
        """Also run ``closer`` on close (a pipe opened by path belongs to the source)."""
        self._closers.append(closer)

    def __enter__(self) -> AudioSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _read_next(handle: sf.SoundFile, frames: int) -> NDArray[np.float32]:
    """The next block, read straight through libsndfile.

    ``SoundFile.read`` seeks to where it thinks the block ended after every read; on a VBR
    MP3 libsndfile's seek is inexact, so every block after the first few came out wrong.
    Reading sequentially never seeks.
    """
    out = np.empty((frames, handle.channels), dtype=np.float32)
    got = sf._snd.sf_readf_float(handle._file, sf._ffi.from_buffer("float[]", out), frames)
    error = sf._snd.sf_error(handle._file)
    if error:
        message = sf._ffi.string(sf._snd.sf_error_number(error)).decode("utf-8", "replace")
        raise sf.SoundFileRuntimeError(message)
    return out[: max(int(got), 0)]


@contextlib.contextmanager
def _captured_stderr() -> Iterator[list[str]]:
    """Catch what C libraries write to fd 2 (libmpg123 warns there on a cut MP3).

    Only used while libsndfile opens a file, before any other thread of ours runs, so no
    message of our own can be lost in the swap.
    """
    caught: list[str] = []
    try:
        saved = os.dup(2)
    except OSError:
        yield caught
        return
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield caught
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            text = sink.read().decode("utf-8", "replace")
            caught.append(text)
            other = "".join(line for line in text.splitlines(True) if _XING not in line)
            if other:  # not ours to hide
                os.write(2, other.encode())


SF_ERR_UNRECOGNISED_FORMAT = 1  # libsndfile's code: another decoder may know the file


class UnrecognisedFormat(AudioInputError):
    """libsndfile does not know the container (MP4, WebM...): PyAV may."""


HEADERLESS = (
    "headerless audio: say what it holds, e.g. "
    "--input-format s16le --input-rate 16000 --input-channels 1"
)


def _read_error(name: str, err: Exception) -> AudioInputError:
    detail = getattr(err, "error_string", None) or str(err)
    detail = " ".join(str(detail).split())
    return AudioInputError(f"{name}: cannot read audio ({detail})")


class SoundFileSource(AudioSource):
    """A seekable file (or an in-memory copy of stdin) decoded by libsndfile, block by block."""

    def __init__(
        self,
        file: str | io.BytesIO,
        *,
        name: str,
        channel: int | None = None,
        block_frames: int = BLOCK_FRAMES,
    ) -> None:
        with _captured_stderr() as said:
            try:
                self._sf = sf.SoundFile(file)
            except (sf.SoundFileError, RuntimeError) as err:
                if getattr(err, "code", None) == SF_ERR_UNRECOGNISED_FORMAT:
                    raise UnrecognisedFormat(f"{name}: Format not recognised") from None
                raise _read_error(name, err) from None
            except TypeError:  # libsndfile takes .raw/.pcm as headerless and wants a format
                raise AudioInputError(f"{name}: {HEADERLESS}") from None
        self._file = file
        self._cut: str | None = None
        if _XING in "".join(said):  # libmpg123's Xing check: bytes are missing
            self._cut = "truncated: the MP3 stream is shorter than its header says"
        elif isinstance(file, str):
            self._cut = truncation(file, self._sf.format)
        self._block_frames = block_frames
        info = self._sf
        if info.frames == 0:
            info.close()
            raise AudioInputError(f"{name}: contains no audio")
        try:
            super().__init__(
                name=name,
                sample_rate=info.samplerate,
                channels=info.channels,
                duration_s=info.frames / info.samplerate,
                is_live=False,
                kind=f"{info.format} {info.subtype}",
                channel=channel,
            )
        except AudioInputError:
            info.close()
            raise
        self.format = info.format
        self.subtype = info.subtype

    def _frames(self) -> Iterator[NDArray[np.float32]]:
        done = 0
        try:
            if self._sf.seekable() and self._sf.tell() != 0:
                self._sf.seek(0)
            while True:
                block = _read_next(self._sf, self._block_frames)
                if len(block) == 0:
                    break
                done += len(block)
                yield block
        except (sf.SoundFileError, RuntimeError) as err:
            at = f"{self.name} at {done / self.sample_rate:.1f} s"
            raise _read_error(at, err) from None
        if self._cut is not None:
            raise AudioInputError(
                f"{self.name}: {self._cut} (sent the {done / self.sample_rate:.1f} s it holds)"
            )

    def ogg_opus_bytes(self) -> Iterator[bytes] | None:
        if (self.format, self.subtype) != ("OGG", "OPUS"):
            return None
        return self._pages()

    def _pages(self) -> Iterator[bytes]:
        try:
            if isinstance(self._file, io.BytesIO):
                yield from iter_pages(io.BytesIO(self._file.getvalue()).read)
                return
            with open(self._file, "rb") as f:
                yield from iter_pages(f.read)
        except OggError as exc:
            raise AudioInputError(f"{self.name}: Ogg stream is corrupt: {exc}") from None

    def close(self) -> None:
        self._sf.close()
        super().close()


class StreamSource(AudioSource):
    """A byte stream decoded as it arrives (streaming WAV or raw PCM); never seeks."""

    def __init__(
        self,
        frames: Iterable[NDArray[np.float32]],
        *,
        name: str,
        sample_rate: int,
        channels: int,
        kind: str,
        is_live: bool,
        duration_s: float | None = None,
        channel: int | None = None,
        closer: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(
            name=name,
            sample_rate=sample_rate,
            channels=channels,
            duration_s=duration_s,
            is_live=is_live,
            kind=kind,
            channel=channel,
        )
        self._iter = iter(frames)
        self._closer = closer

    def _frames(self) -> Iterator[NDArray[np.float32]]:
        return self._iter

    def close(self) -> None:
        if self._closer is not None:
            self._closer()
            self._closer = None
        super().close()
