"""stdin: sniff what arrives, then decode it as it streams (WAV, raw PCM) or buffer it.

A pipe cannot seek, so the first bytes decide the decoder; they are then handed back to
it, and every read is passed on at once so live audio is never held back.
"""

from __future__ import annotations

import io
import os
import stat
from collections.abc import Callable, Iterator
from itertools import chain
from typing import IO

import numpy as np
from numpy.typing import NDArray

from flux_cli.audio.input_format import InputFormat
from flux_cli.audio.sampleformat import PcmDeinterleaver, sample_width
from flux_cli.audio.source import AudioSource, SoundFileSource, StreamSource
from flux_cli.audio.wavstream import WavError, WavStreamParser, read_audio, read_header
from flux_cli.errors import AudioInputError

READ_SIZE = 65536
RAW_FLAGS_HINT = "--input-format s16le --input-rate 16000 --input-channels 1"

Notice = Callable[[str], None]
Reader = Callable[[], bytes]


def chunk_reader(stream: IO[bytes], name: str) -> Reader:
    """A reader that returns what one read of the stream gives (at most one syscall).

    A real file descriptor is read with ``os.read``, below Python's buffered reader: the
    sender thread may still be blocked in that read when the session ends, and a thread
    blocked inside ``BufferedReader.read1`` holds the buffer's lock, which the interpreter
    needs at shutdown (``Fatal Python error: _enter_buffered_busy``, exit 134). A blocked
    ``os.read`` holds no Python lock, so the thread can be abandoned safely. Streams without
    a descriptor (in-memory) use ``read1``, which also returns as soon as any bytes arrive.
    """
    fd = _fileno(stream)
    if fd is not None:

        def read_fd() -> bytes:
            try:
                return os.read(fd, READ_SIZE)
            except OSError as err:
                raise AudioInputError(f"{name}: read failed ({err.strerror or err})") from None

        return read_fd
    read1 = getattr(stream, "read1", None)
    read: Callable[[int], bytes] = read1 if read1 is not None else stream.read

    def read_chunk() -> bytes:
        try:
            return read(READ_SIZE)
        except OSError as err:
            raise AudioInputError(f"{name}: read failed ({err.strerror or err})") from None

    return read_chunk


def _fileno(stream: IO[bytes]) -> int | None:
    """The stream's descriptor (nothing reads it before us, so no bytes sit buffered above)."""
    try:
        return stream.fileno()
    except (OSError, ValueError, AttributeError):
        return None


def prefixed(prefix: bytes, read: Reader) -> Reader:
    """A reader that first returns ``prefix`` (the sniffed bytes), then reads on."""
    pending = [prefix] if prefix else []

    def read_chunk() -> bytes:
        return pending.pop() if pending else read()

    return read_chunk


def sniff(read: Reader, want: int = 4) -> bytes:
    """The first ``want`` bytes (fewer only at EOF): enough to tell the formats apart."""
    head = b""
    while len(head) < want:
        chunk = read()
        if not chunk:
            break
        head += chunk
    return head


def is_wav(head: bytes) -> bool:
    """A RIFF (or RF64) header: stream it."""
    return head[:4] in (b"RIFF", b"RF64")


def _is_mpeg_audio_header(head: bytes) -> bool:
    """An MPEG audio frame header with no reserved field values.

    Checked strictly because raw PCM without flags can start with 0xFF bytes, and mistaking
    a live pipe for MP3 would mean buffering it until an EOF that never comes.
    """
    if len(head) < 4 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0:
        return False
    version, layer = (head[1] >> 3) & 3, (head[1] >> 1) & 3
    bitrate, rate = head[2] >> 4, (head[2] >> 2) & 3
    return version != 1 and layer != 0 and bitrate not in (0, 15) and rate != 3


def looks_compressed(head: bytes) -> bool:
    """FLAC, Ogg or MP3: formats libsndfile decodes but only from a whole (seekable) buffer."""
    if head[:4] in (b"fLaC", b"OggS") or head[:3] == b"ID3":
        return True
    return _is_mpeg_audio_header(head)


def wav_stream(read: Reader, name: str, channel: int | None, is_live: bool) -> StreamSource:
    """A WAV pipe: reads only the header now; audio is decoded as later reads return."""
    parser = WavStreamParser()
    try:
        early = read_header(parser, read)
    except WavError as err:
        raise AudioInputError(f"{name}: {err}") from None
    fmt = parser.format
    assert fmt is not None

    def audio() -> Iterator[NDArray[np.float32]]:
        frames = sum(len(block) for block in early)
        try:
            for block in read_audio(parser, read):
                frames += len(block)
                yield block
        except WavError as err:
            raise AudioInputError(f"{name}: {err}") from None
        if parser.missing_bytes:  # as a cut file given by path is reported
            raise AudioInputError(
                f"{name}: truncated: its header declares {parser.missing_bytes} more bytes of "
                f"audio (sent the {frames / fmt.sample_rate:.1f} s it holds)"
            )

    return StreamSource(
        chain(early, audio()),
        name=name,
        sample_rate=fmt.sample_rate,
        channels=fmt.channels,
        kind=f"WAV {fmt.subtype}",
        is_live=is_live,
        channel=channel,
    )


def raw_stream(
    read: Reader,
    raw: InputFormat,
    name: str,
    channel: int | None,
    *,
    is_live: bool,
    total_bytes: int | None = None,
    closer: Callable[[], None] | None = None,
) -> StreamSource:
    sample_format, rate, channels = raw.resolved()
    pcm = PcmDeinterleaver(sample_format, channels)

    def frames() -> Iterator[NDArray[np.float32]]:
        while chunk := read():
            yield pcm.feed(chunk)

    duration = None
    if total_bytes is not None:
        duration = total_bytes // (sample_width(sample_format) * channels) / rate
    return StreamSource(
        frames(),
        name=name,
        sample_rate=rate,
        channels=channels,
        kind=f"raw {sample_format}",
        is_live=is_live,
        duration_s=duration,
        channel=channel,
        closer=closer,
    )


def paced_by_source(stream: IO[bytes]) -> bool:
    """False when stdin is a redirected regular file (``< call.wav``): that needs pacing."""
    try:
        return not stat.S_ISREG(os.fstat(stream.fileno()).st_mode)
    except (OSError, ValueError, AttributeError):
        return True  # no file descriptor (an in-memory stream): treat as a live pipe


def open_stdin(
    stream: IO[bytes],
    raw: InputFormat | None,
    channel: int | None,
    notice: Notice,
    *,
    name: str = "stdin",
    closer: Callable[[], None] | None = None,
) -> AudioSource:
    """stdin, or any pipe given by path (a FIFO, ``<(...)``, ``/dev/stdin``): sniff and stream."""
    isatty = getattr(stream, "isatty", None)
    if isatty is not None and isatty():
        raise AudioInputError(
            f"{name} is a terminal; pipe audio in (e.g. arecord -f S16_LE -r 16000 -t wav | ...)"
        )
    live = paced_by_source(stream)
    read = chunk_reader(stream, name)
    head = sniff(read)
    if not head:
        raise AudioInputError(f"{name} is empty: no audio arrived")
    read = prefixed(head, read)
    raw_given = raw is not None and raw.is_set
    if is_wav(head):
        if raw_given:
            notice(f"{name} is a WAV stream; ignoring the --input-* flags")
        source: AudioSource = wav_stream(read, name, channel, is_live=live)
    elif raw is not None and raw_given:
        source = raw_stream(read, raw, name, channel, is_live=live)
    elif looks_compressed(head):
        notice(f"{name} is compressed audio (FLAC/Ogg/MP3): reading all of it before sending")
        data = b"".join(iter(read, b""))
        source = SoundFileSource(io.BytesIO(data), name=name, channel=channel)
    else:
        raise AudioInputError(
            f"{name} is not WAV, FLAC, Ogg or MP3; for raw PCM say its format, "
            f"e.g. {RAW_FLAGS_HINT}"
        )
    if closer is not None:
        source.add_closer(closer)
    return source
