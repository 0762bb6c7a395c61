"""Audio sources: real files in every format we claim, stdin through real pipes, and errors."""

from __future__ import annotations

import io
import os
import threading
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import timeout
from helpers.audio_testutil import UNTIL_EOF, fmt_chunk, pcm16, pipe_from_process, tone, wav_header
from numpy.typing import NDArray

from flux_cli.audio.inputs import AudioSource, InputFormat, open_source
from flux_cli.audio.ogg import opus_page_end_seconds
from flux_cli.audio.pipeline import float_frames
from flux_cli.errors import AudioInputError, UsageError

RATE = 44100
# Constant bit rate, about 128 kb/s with an "Info" header: what ``ffmpeg -c:a libmp3lame`` writes.
MP3_CBR = {"bitrate_mode": "CONSTANT", "compression_level": 0.65}


def stereo_tone(seconds: float = 1.0, rate: int = RATE) -> NDArray[np.float32]:
    left = tone(seconds, rate, 440, 0.5)
    return np.stack([left, left], axis=1)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One second of a 440 Hz stereo tone at 44.1 kHz in each format (48 kHz for Opus).

    All written by libsndfile, which encodes Opus only at Opus's own rates.
    """
    d = tmp_path_factory.mktemp("formats")
    audio = stereo_tone()
    out = {
        "wav16": d / "pcm16.wav",
        "wav24": d / "pcm24.wav",
        "wavfloat": d / "float.wav",
        "wavex": d / "ext.wav",
        "flac": d / "tone.flac",
        "vorbis": d / "tone.ogg",
        "opus": d / "tone.opus",
        "mp3": d / "tone.mp3",
    }
    sf.write(out["wav16"], audio, RATE, subtype="PCM_16")
    sf.write(out["wav24"], audio, RATE, subtype="PCM_24")
    sf.write(out["wavfloat"], audio, RATE, subtype="FLOAT")
    sf.write(out["wavex"], audio, RATE, format="WAVEX", subtype="PCM_16")
    sf.write(out["flac"], audio, RATE, format="FLAC")
    sf.write(out["vorbis"], audio, RATE, format="OGG", subtype="VORBIS")
    sf.write(out["opus"], stereo_tone(rate=48000), 48000, format="OGG", subtype="OPUS")
    sf.write(out["mp3"], audio, RATE, format="MP3", subtype="MPEG_LAYER_III", **MP3_CBR)
    return out


def peak_hz(samples: NDArray[np.float32], rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples))
    return float(np.argmax(spectrum)) * rate / len(samples)


def mono_16k(source: AudioSource) -> NDArray[np.float32]:
    frames = list(float_frames(source, sample_rate=16000, chunk_ms=80))
    return np.concatenate(frames)


FORMATS = [
    ("wav16", "WAV PCM_16", RATE, True),
    ("wav24", "WAV PCM_24", RATE, True),
    ("wavfloat", "WAV FLOAT", RATE, True),
    ("wavex", "WAVEX PCM_16", RATE, True),
    ("flac", "FLAC PCM_16", RATE, True),
    ("vorbis", "OGG VORBIS", RATE, False),
    ("opus", "OGG OPUS", 48000, False),
    ("mp3", "MP3 MPEG_LAYER_III", RATE, False),
]


@pytest.mark.parametrize(("key", "kind", "rate", "lossless"), FORMATS)
def test_file_formats_come_out_as_16k_mono(
    files: dict[str, Path], key: str, kind: str, rate: int, lossless: bool
) -> None:
    with open_source(str(files[key])) as source:
        assert (source.sample_rate, source.channels, source.is_live) == (rate, 2, False)
        assert source.duration_s is not None and abs(source.duration_s - 1.0) < 0.1
        assert source.description.startswith(f"{files[key]}: {kind}, {rate} Hz, 2 ch, ")
        out = mono_16k(source)
        expected = 16000 if lossless else round(source.duration_s * 16000)
        assert abs(len(out) - expected) <= 2
        assert abs(peak_hz(out, 16000) - 440) < 3
        assert 0.3 < float(np.sqrt(np.mean(out[2000:-2000] ** 2))) < 0.4  # 0.5 / sqrt(2)


def test_vbr_mp3_blocks_match_a_whole_file_decode(tmp_path: Path) -> None:
    """Block reads must not seek: libsndfile's seek is inexact on VBR MP3 (soundfile's
    default), which used to corrupt every block after the first few."""
    path = tmp_path / "vbr.mp3"
    sf.write(path, tone(5.0, RATE, 440, 0.5), RATE, format="MP3")  # VBR by default
    whole, _ = sf.read(path, dtype="float32")
    with open_source(str(path)) as source:
        blocks = np.concatenate(list(source.blocks()))
    assert len(blocks) == len(whole)
    np.testing.assert_array_equal(blocks, whole)


def test_channel_selection_and_downmix(tmp_path: Path) -> None:
    left = tone(0.5, 16000, 440, 0.5)
    path = tmp_path / "left-only.wav"
    sf.write(path, np.stack([left, np.zeros_like(left)], axis=1), 16000, subtype="FLOAT")
    picked = {
        ch: np.concatenate(list(open_source(str(path), channel=ch).blocks())) for ch in (0, 1)
    }
    mixed = np.concatenate(list(open_source(str(path)).blocks()))
    np.testing.assert_allclose(picked[0], left, atol=1e-7)
    assert not picked[1].any()
    np.testing.assert_allclose(mixed, left / 2, atol=1e-7)
    with pytest.raises(AudioInputError, match=r"channel 2 is out of range.*2 channels"):
        open_source(str(path), channel=2)


def test_ogg_opus_pass_through_is_the_file_in_whole_pages(files: dict[str, Path]) -> None:
    source = open_source(str(files["opus"]))
    pages = source.ogg_opus_bytes()
    assert pages is not None
    chunks = list(pages)
    assert len(chunks) >= 3 and all(c.startswith(b"OggS") for c in chunks)
    assert b"".join(chunks) == files["opus"].read_bytes()
    for key in ("vorbis", "wav16", "mp3"):
        assert open_source(str(files[key])).ogg_opus_bytes() is None
    # Granule positions give each page's end time, which is what pacing a pass-through needs.
    ends = [opus_page_end_seconds(c) for c in chunks]
    assert ends[0] == 0.0 and ends == sorted(e for e in ends if e is not None)
    assert ends[-1] == pytest.approx(1.0, abs=0.02)


@pytest.mark.slow
def test_stdin_wav_stream_through_a_real_pipe(files: dict[str, Path]) -> None:
    proc = pipe_from_process(files["wav16"])  # another process writing into a pipe
    assert proc.stdout is not None
    source = open_source("-", stdin=proc.stdout)
    assert (source.sample_rate, source.channels, source.duration_s) == (RATE, 2, None)
    assert source.is_live
    assert source.description == "stdin: WAV PCM_16, 44100 Hz, 2 ch, live"
    out = mono_16k(source)
    assert proc.wait(timeout(10)) == 0
    assert abs(len(out) - 16000) <= 2


@pytest.mark.slow
@pytest.mark.parametrize(
    ("fmt", "subtype", "width"),
    [
        ("s16le", "PCM_16", 2),
        ("s24le", "PCM_24", 3),
        ("s32le", "PCM_32", 4),
        ("f32le", "FLOAT", 4),
        ("f64le", "DOUBLE", 8),
        ("u8", "PCM_U8", 1),
        ("mulaw", "ULAW", 1),
        ("alaw", "ALAW", 1),
    ],
)
def test_stdin_raw_pcm_through_a_real_pipe(
    tmp_path: Path, fmt: str, subtype: str, width: int
) -> None:
    """Headerless samples encoded by libsndfile, fed through a pipe by another process."""
    # channel 0 is louder, so a downmix or the wrong channel would peak at 250 Hz
    stereo = np.stack([tone(1.0, 8000, 250, 0.6), tone(1.0, 8000, 440, 0.3)], axis=1)
    raw = tmp_path / f"tone.{fmt}"
    sf.write(raw, stereo, 8000, format="RAW", subtype=subtype, endian="LITTLE")
    assert raw.stat().st_size == 8000 * 2 * width  # headerless: samples only
    proc = pipe_from_process(raw, piece=1001)  # odd pieces split samples between reads
    assert proc.stdout is not None
    source = open_source("-", stdin=proc.stdout, raw=InputFormat(fmt, 8000, 2), channel=1)
    assert source.description == f"stdin: raw {fmt}, 8000 Hz, 2 ch, live"
    out = np.concatenate(list(source.blocks()))
    assert proc.wait(timeout(10)) == 0
    assert abs(len(out) - 8000) <= 2
    assert abs(peak_hz(out, 8000) - 440) < 3  # channel 1, not channel 0's 250 Hz


def test_raw_file_with_flags(tmp_path: Path) -> None:
    audio = tone(0.5, 16000)
    path = tmp_path / "speech.raw"
    path.write_bytes(pcm16(audio))
    source = open_source(str(path), raw=InputFormat("s16le", 16000, None))
    assert not source.is_live and source.duration_s == 0.5
    np.testing.assert_allclose(np.concatenate(list(source.blocks())), audio, atol=1 / 32768)
    source.close()


@pytest.mark.parametrize("key", ["flac", "mp3", "vorbis"])
def test_stdin_compressed_is_buffered_with_a_notice(files: dict[str, Path], key: str) -> None:
    notices: list[str] = []
    with files[key].open("rb") as f:
        source = open_source("-", stdin=f, notice=notices.append)
    assert len(notices) == 1 and "reading all of it" in notices[0]
    assert not source.is_live and source.duration_s is not None
    assert abs(peak_hz(mono_16k(source), 16000) - 440) < 3


def test_stdin_wav_ignores_raw_flags_with_a_notice(files: dict[str, Path]) -> None:
    notices: list[str] = []
    data = io.BytesIO(files["wav16"].read_bytes())
    source = open_source("-", stdin=data, raw=InputFormat("u8", 8000, 1), notice=notices.append)
    assert source.sample_rate == RATE and notices


def test_stdin_redirected_from_a_file_is_not_live(files: dict[str, Path]) -> None:
    with files["wav16"].open("rb") as stdin:
        source = open_source("-", stdin=stdin)
        assert not source.is_live and source.duration_s is None
        assert source.description.endswith("2 ch, length unknown")
        assert abs(len(mono_16k(source)) - 16000) <= 2


def test_raw_flags_on_a_wav_file_are_ignored_with_a_notice(files: dict[str, Path]) -> None:
    notices: list[str] = []
    raw = InputFormat("s16le", 8000, 1)
    source = open_source(str(files["wav16"]), raw=raw, notice=notices.append)
    assert source.sample_rate == RATE and source.channels == 2
    assert notices == [f"{files['wav16']} has an audio header; ignoring the --input-* flags"]


def test_stdin_terminal_is_refused() -> None:
    master, slave = os.openpty()
    try:
        with open(slave, "rb", closefd=False) as tty, pytest.raises(AudioInputError, match="pipe"):
            open_source("-", stdin=tty)
    finally:
        os.close(master)
        os.close(slave)


def test_stdin_ogg_opus_pass_through(files: dict[str, Path]) -> None:
    source = open_source("-", stdin=io.BytesIO(files["opus"].read_bytes()))
    pages = source.ogg_opus_bytes()
    assert pages is not None and b"".join(pages) == files["opus"].read_bytes()


def one_line_error(exc: pytest.ExceptionInfo[AudioInputError]) -> str:
    assert "\n" not in exc.value.message
    return exc.value.message


def test_unknown_stdin_names_the_raw_flags() -> None:
    with pytest.raises(AudioInputError) as exc:
        open_source("-", stdin=io.BytesIO(b"\x01\x02\x03\x04" * 100))
    assert "--input-format s16le --input-rate 16000 --input-channels 1" in one_line_error(exc)


def test_raw_pcm_starting_with_ff_bytes_is_not_mistaken_for_mp3() -> None:
    """A live pipe of raw samples (-1, -1, ...) must fail at once, not be buffered until EOF."""
    r, w = os.pipe()
    os.write(w, b"\xff" * 4096)  # the writer stays open, as a live recorder would
    outcome: list[BaseException] = []

    def attempt() -> None:
        with open(r, "rb") as stdin:
            try:
                open_source("-", stdin=stdin)
            except AudioInputError as exc:
                outcome.append(exc)

    thread = threading.Thread(target=attempt, daemon=True)
    thread.start()
    thread.join(timeout(10))
    os.close(w)
    thread.join(timeout(10))
    assert outcome and "--input-format" in str(outcome[0])


def test_mp3_on_stdin_without_id3_tag(files: dict[str, Path]) -> None:
    data = files["mp3"].read_bytes()
    if data[:3] == b"ID3":  # skip the tag so the frame-sync sniffing is what is tested
        size = (data[6] << 21) | (data[7] << 14) | (data[8] << 7) | data[9]
        data = data[10 + size :]
    assert data[0] == 0xFF
    source = open_source("-", stdin=io.BytesIO(data))
    assert abs(peak_hz(mono_16k(source), 16000) - 440) < 3


def test_empty_stdin_and_header_only_stdin() -> None:
    with pytest.raises(AudioInputError, match="stdin is empty"):
        open_source("-", stdin=io.BytesIO(b""))
    header_only = wav_header(fmt_chunk(1, 1, 16000, 16), UNTIL_EOF)
    source = open_source("-", stdin=io.BytesIO(header_only))
    with pytest.raises(AudioInputError, match="no audio"):
        list(source.blocks())
    with pytest.raises(AudioInputError, match=r"^stdin: .*header was complete"):
        open_source("-", stdin=io.BytesIO(header_only[:20]))


def test_stdin_from_os_pipe_fd() -> None:
    r, w = os.pipe()
    os.write(w, wav_header(fmt_chunk(3, 1, 16000, 32), 0) + tone(0.1, 16000).tobytes())
    os.close(w)
    with os.fdopen(r, "rb") as stdin:
        out = np.concatenate(list(open_source("-", stdin=stdin).blocks()))
    np.testing.assert_array_equal(out, tone(0.1, 16000))


def bad_input(kind: str, d: Path) -> Path:
    """A file that should be refused, by kind."""
    path = d / f"{kind}.wav"
    if kind == "directory":
        return d
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "random-bytes":
        path.write_bytes(os.urandom(5000))
    elif kind == "truncated-header":
        path.write_bytes(b"RIFF\x10\0\0\0WAVEfmt ")
    elif kind == "zero-frames":
        sf.write(path, np.zeros((0, 1)), 16000)
    return path


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("missing", "no such file"),
        ("directory", "is a directory"),
        ("empty", "file is empty"),
        ("random-bytes", "cannot read audio"),
        ("truncated-header", "cannot read audio"),
        ("zero-frames", "contains no audio"),
    ],
)
def test_file_errors_are_one_line(tmp_path: Path, kind: str, message: str) -> None:
    path = bad_input(kind, tmp_path)
    with pytest.raises(AudioInputError) as exc:
        open_source(str(path))
    assert message in one_line_error(exc)
    assert str(path) in exc.value.message


def test_corruption_mid_file_fails_after_the_good_audio(tmp_path: Path) -> None:
    path = tmp_path / "damaged.flac"
    sf.write(path, tone(5.0, 16000), 16000)
    data = bytearray(path.read_bytes())
    third = len(data) // 3
    data[third : third + 3000] = np.random.default_rng(0).integers(0, 256, 3000, np.uint8).tobytes()
    path.write_bytes(bytes(data))
    good = 0
    with pytest.raises(AudioInputError) as exc:
        for block in open_source(str(path)).blocks():
            good += len(block)
    assert good > 0
    assert one_line_error(exc).startswith(f"{path} at {good / 16000:.1f} s: cannot read audio")


@pytest.mark.parametrize(
    ("raw", "flag"),
    [
        (InputFormat(None, 16000, 1), "--input-format"),
        (InputFormat("s12le", 16000, 1), "--input-format"),
        (InputFormat("s16le", None, 1), "--input-rate"),
        (InputFormat("s16le", 0, 1), "--input-rate"),
        (InputFormat("s16le", 16000, 0), "--input-channels"),
    ],
)
def test_bad_raw_flags_are_usage_errors(raw: InputFormat, flag: str) -> None:
    with pytest.raises(UsageError, match=flag):
        open_source("-", stdin=io.BytesIO(b"\0" * 64), raw=raw)


def test_long_flac_is_read_in_bounded_blocks(tmp_path: Path) -> None:
    path = tmp_path / "ten-minutes.flac"
    with sf.SoundFile(path, "w", 16000, 1, subtype="PCM_16", format="FLAC") as f:
        ten_seconds = tone(10.0, 16000, 300, 0.5)  # a whole number of periods: seamless
        for _ in range(60):
            f.write(ten_seconds)
    source = open_source(str(path), block_frames=8000)
    assert source.duration_s == 600.0
    tracemalloc.start()
    try:
        count = total = 0
        for block in source.blocks():
            assert len(block) <= 8000
            count += 1
            total += len(block)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total == 600 * 16000 and count == 1200
    assert peak < 2_000_000, f"peak {peak} bytes: the whole file (38 MB as float32) was loaded"
