"""Ogg page/packet parsing (pure) and Ogg Opus decoding, on libsndfile output and literal pages."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from helpers.speech import clip_path, encode_ogg

from flux_cli.audio.ogg import FLAG_CONTINUED, FLAG_FIRST, OPUS_RATE, OggError, ogg_crc, parse_page
from flux_cli.server.opus import OggOpusDecoder, OggPacketReader, OpusHead


def make_page(
    body_packets: list[bytes],
    *,
    flags: int = 0,
    serial: int = 1,
    sequence: int = 0,
    granule: int = 0,
    open_end: bool = False,
) -> bytes:
    """One Ogg page; with ``open_end`` the last packet continues on the next page."""
    lacing: list[int] = []
    for i, packet in enumerate(body_packets):
        full, rest = divmod(len(packet), 255)
        lacing += [255] * full
        if not (open_end and i == len(body_packets) - 1):
            lacing.append(rest)
        elif rest:
            raise ValueError("an open-ended packet piece must be a multiple of 255 bytes")
    header = b"OggS" + struct.pack("<BBqIIIB", 0, flags, granule, serial, sequence, 0, len(lacing))
    page = bytearray(header + bytes(lacing) + b"".join(body_packets))
    page[22:26] = struct.pack("<I", ogg_crc(bytes(page)))
    return bytes(page)


def feed_in_pieces(reader: OggPacketReader, data: bytes, sizes: list[int]) -> list[bytes]:
    packets: list[bytes] = []
    pos, i = 0, 0
    while pos < len(data):
        step = sizes[i % len(sizes)]
        packets += reader.feed(data[pos : pos + step])
        pos += step
        i += 1
    return packets


@pytest.fixture(scope="module")
def speech_wav() -> Path:
    """flite slt: "The quick brown fox jumps over the lazy dog." (committed, 16 kHz mono)."""
    return clip_path("fox_slt")


@pytest.fixture(scope="module")
def opus_bytes(speech_wav: Path) -> bytes:
    """Mono Ogg Opus at ~24 kbit/s, written by libsndfile (input rate 16 kHz in its OpusHead)."""
    audio, rate = sf.read(speech_wav, dtype="float32")
    return encode_ogg(audio, rate, compression_level=0.94)


def test_crc_matches_the_crc32_cksum_check_value() -> None:
    assert ogg_crc(b"123456789") ^ 0xFFFFFFFF == 0x765E7680


def test_packets_do_not_depend_on_how_the_bytes_are_cut(opus_bytes: bytes) -> None:
    whole = OggPacketReader().feed(opus_bytes)
    assert whole[0].startswith(b"OpusHead") and whole[1].startswith(b"OpusTags")
    for sizes in ([1], [7, 3, 250], [4096], [27, 28, 1]):
        reader = OggPacketReader()
        assert feed_in_pieces(reader, opus_bytes, sizes) == whole
        reader.close()


def test_packet_count_matches_pyav_demuxer(opus_bytes: bytes, tmp_path: Path) -> None:
    import av

    path = tmp_path / "x.opus"
    path.write_bytes(opus_bytes)
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        demuxed = [bytes(p) for p in container.demux(stream) if p.size]
    ours = OggPacketReader().feed(opus_bytes)[2:]
    assert ours == demuxed


def test_packets_spanning_pages_are_reassembled() -> None:
    big = bytes(range(256)) * 3  # 768 bytes: 255 + 255 on page 1, 258 on page 2
    pages = (
        make_page([b"head"], flags=FLAG_FIRST)
        + make_page([b"a", big[:510]], sequence=1, open_end=True)
        + make_page([big[510:], b"z"], flags=FLAG_CONTINUED, sequence=2)
    )
    reader = OggPacketReader()
    assert feed_in_pieces(reader, pages, [5]) == [b"head", b"a", big, b"z"]
    assert reader.pages == 3


def test_a_page_of_another_stream_is_ignored() -> None:
    pages = (
        make_page([b"ours"], flags=FLAG_FIRST, serial=1)
        + make_page([b"theirs"], flags=FLAG_FIRST, serial=2)
        + make_page([b"ours again"], serial=1, sequence=1)
    )
    assert OggPacketReader().feed(pages) == [b"ours", b"ours again"]


def test_incomplete_page_waits_for_more_bytes() -> None:
    page = make_page([b"hello"], flags=FLAG_FIRST)
    for cut in (0, 4, 26, 27, len(page) - 1):
        assert parse_page(page[:cut]) is None
    found = parse_page(page)
    assert found is not None and found[1] == len(page)
    reader = OggPacketReader()
    assert reader.feed(page[:-1]) == []
    with pytest.raises(OggError, match="ends inside a page"):
        reader.close()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"RIFF\x00\x00\x00\x00WAVEfmt " + bytes(40), "not an Ogg stream"),
        (make_page([b"x"], flags=0), "does not start at its first page"),
    ],
)
def test_not_ogg_is_an_error(data: bytes, message: str) -> None:
    with pytest.raises(OggError, match=message):
        OggPacketReader().feed(data)


def test_a_corrupted_byte_fails_the_crc(opus_bytes: bytes) -> None:
    damaged = bytearray(opus_bytes)
    damaged[len(damaged) // 2] ^= 0x40
    with pytest.raises(OggError, match="CRC"):
        OggPacketReader().feed(bytes(damaged))


def test_opus_head_is_parsed(opus_bytes: bytes) -> None:
    head = OpusHead.parse(OggPacketReader().feed(opus_bytes)[0])
    assert head.channels == 1 and head.pre_skip > 0 and head.input_rate == 16000
    with pytest.raises(OggError, match="not Opus"):
        OpusHead.parse(b"\x01vorbis" + bytes(30))


def test_ogg_vorbis_is_refused(speech_wav: Path) -> None:
    audio, rate = sf.read(speech_wav, dtype="float32")
    vorbis = encode_ogg(audio, rate, subtype="VORBIS")
    with pytest.raises(OggError, match="not Opus"):
        OggOpusDecoder().feed(vorbis)


@pytest.mark.parametrize("channels", [1, 2])
def test_opus_decodes_to_the_original_length_and_shape(
    speech_wav: Path, opus_bytes: bytes, channels: int
) -> None:
    original, rate = sf.read(speech_wav, dtype="float32")
    data = opus_bytes
    if channels == 2:
        data = encode_ogg(original, rate, channels=2)
    decoder = OggOpusDecoder()
    audio = np.concatenate([decoder.feed(data[i : i + 333]) for i in range(0, len(data), 333)])
    decoder.close()
    assert audio.dtype == np.float32 and audio.ndim == 1
    expected = original.size * OPUS_RATE // rate
    # Pre-skip is removed; what remains past the end is the last packet's padding (< 20 ms).
    assert expected <= audio.size < expected + OPUS_RATE // 50
    # Same loudness envelope (20 ms blocks) as the original, with no time shift.
    n = original.size // (rate // 50)
    ours = envelope(audio, OPUS_RATE // 50, n)
    theirs = envelope(original, rate // 50, n)
    assert np.corrcoef(ours, theirs)[0, 1] > 0.95


def envelope(audio: np.ndarray, block: int, n: int) -> np.ndarray:
    return np.sqrt((audio[: n * block].reshape(n, block) ** 2).mean(axis=1))
