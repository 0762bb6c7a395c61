"""Client audio → 16 kHz mono float32: every wire encoding and rate, containers, odd cuts."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr
from helpers.speech import clip_path, encode_ogg, phone_line

from flux_cli.audio.encoding import decode, encode
from flux_cli.engine.interfaces import SAMPLE_RATE
from flux_cli.server.opus import OggPacketReader
from flux_cli.server.wire_audio import AudioDecodeError, AudioDecoder, make_decoder

RATES = (8000, 16000, 24000, 44100, 48000)
ENCODINGS = ("linear16", "linear32", "mulaw", "alaw")


def tone(rate: int, seconds: float = 1.0, freq: float = 440.0, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def decode_all(decoder: AudioDecoder, data: bytes, sizes: list[int]) -> np.ndarray:
    out: list[np.ndarray] = []
    pos, i = 0, 0
    while pos < len(data):
        step = sizes[i % len(sizes)]
        block = decoder.feed(data[pos : pos + step])
        assert block.dtype == np.float32 and block.ndim == 1
        out.append(block)
        pos += step
        i += 1
    out.append(decoder.flush())
    return np.concatenate(out)


def peak_frequency(audio: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(audio.size)))
    return float(np.argmax(spectrum) * SAMPLE_RATE / audio.size)


@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize("encoding", ENCODINGS)
def test_raw_encodings_at_every_rate(encoding: str, rate: int) -> None:
    source = tone(rate)
    data = encode(source, encoding)
    frame = len(data) * 80 // 1000  # 80 ms frames, plus odd cuts that split samples
    audio = decode_all(make_decoder(encoding, rate), data, [frame + 1, frame - 3, 5])
    assert abs(audio.size - SAMPLE_RATE) <= 2
    middle = audio[2000:-2000]
    assert peak_frequency(middle) == pytest.approx(440, abs=2)
    assert np.sqrt(np.mean(middle**2)) == pytest.approx(0.5 / np.sqrt(2), rel=0.03)


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_split_samples_give_the_same_audio_as_whole_frames(encoding: str) -> None:
    data = encode(tone(SAMPLE_RATE, 0.5), encoding)
    whole = decode_all(make_decoder(encoding, SAMPLE_RATE), data, [len(data)])
    for sizes in ([1], [3, 2559], [7]):
        np.testing.assert_array_equal(
            decode_all(make_decoder(encoding, SAMPLE_RATE), data, sizes), whole
        )


def test_a_partial_sample_at_the_end_is_dropped() -> None:
    decoder = make_decoder("linear16", 16000)
    fed = decoder.feed(b"\x00\x40\x00")  # 16 kHz: held for the band check (phone_line.py)
    assert np.concatenate([fed, decoder.flush()]).tolist() == [0.5]


def wav_bytes(audio: np.ndarray, rate: int, subtype: str) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, audio, rate, subtype=subtype, format="WAV")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("rate", "channels", "subtype"),
    [(16000, 1, "PCM_16"), (44100, 2, "PCM_16"), (48000, 1, "FLOAT"), (8000, 1, "ULAW")],
)
def test_wav_container_is_read_from_its_header(rate: int, channels: int, subtype: str) -> None:
    mono = tone(rate, 1.0)
    audio = np.stack([mono, mono], axis=1) if channels == 2 else mono
    data = wav_bytes(audio, rate, subtype)
    out = decode_all(make_decoder(None, None), data, [3, 1, 41, 2560])
    assert abs(out.size - SAMPLE_RATE) <= 2
    assert peak_frequency(out[2000:-2000]) == pytest.approx(440, abs=2)
    assert np.sqrt(np.mean(out[2000:-2000] ** 2)) == pytest.approx(0.5 / np.sqrt(2), rel=0.03)


def test_streaming_wav_with_unknown_length_is_read_to_the_end() -> None:
    data = bytearray(wav_bytes(tone(16000, 0.5), 16000, "PCM_16"))
    data[40:44] = b"\xff\xff\xff\xff"  # data chunk size unknown, as from a live pipe
    out = decode_all(make_decoder(None, None), bytes(data), [1000])
    assert out.size == 8000


@pytest.fixture(scope="module")
def speech() -> Path:
    """flite rms: "Could you please check what happened to my order?" (committed, 16 kHz)."""
    return clip_path("check_my_order")


def opus_file(
    speech: Path, rate: int = SAMPLE_RATE, compression_level: float | None = None
) -> bytes:
    """Mono Ogg Opus via libsndfile; ``rate`` is the input rate (resampled first if not 16k)."""
    audio, source_rate = sf.read(speech, dtype="float32")
    if rate != source_rate:
        audio = soxr.resample(audio, source_rate, rate).astype(np.float32)
    return encode_ogg(audio, rate, compression_level=compression_level)


@pytest.mark.parametrize("encoding", [None, "ogg-opus", "opus"])
def test_ogg_opus_is_decoded_and_resampled(speech: Path, encoding: str | None) -> None:
    data = opus_file(speech, 48000)
    original, rate = sf.read(speech, dtype="float32")
    out = decode_all(make_decoder(encoding, None), data, [1, 999, 4000])
    assert rate == SAMPLE_RATE
    assert original.size <= out.size < original.size + SAMPLE_RATE // 50 + 64
    n = original.size // 320
    ours = np.sqrt((out[: n * 320].reshape(n, 320) ** 2).mean(axis=1))
    theirs = np.sqrt((original[: n * 320].reshape(n, 320) ** 2).mean(axis=1))
    assert np.corrcoef(ours, theirs)[0, 1] > 0.95


def test_bare_opus_packets_one_per_frame(speech: Path) -> None:
    packets = OggPacketReader().feed(opus_file(speech))[2:]  # drop OpusHead/OpusTags
    decoder = make_decoder("opus", None)
    out = np.concatenate([decoder.feed(p) for p in packets] + [decoder.flush()])
    original, _ = sf.read(speech, dtype="float32")
    # No OpusHead here, so the encoder's pre-skip stays in: a few ms longer.
    assert original.size <= out.size < original.size + SAMPLE_RATE // 10
    assert np.sqrt(np.mean(out**2)) > 0.3 * np.sqrt(np.mean(original**2))


@pytest.mark.slow
def test_decoded_opus_speech_is_recognised(speech: Path) -> None:
    from flux_cli.engine.models.loader import load_engine

    data = opus_file(speech, compression_level=0.97)  # about 16 kbit/s
    out = decode_all(make_decoder(None, None), data, [1200])
    text = load_engine().transcriber.transcribe(out, offset_s=0).text.lower()
    for word in ("could", "please", "check", "happened"):
        assert word in text


@pytest.mark.parametrize(
    ("encoding", "rate", "data", "message"),
    [
        (None, None, b"ID3\x04 not audio at all", "unrecognised audio container"),
        (None, None, b"RIFF\x10\x00\x00\x00WAVEJUNK", "not a WAV|fmt|header"),
        ("ogg-opus", None, b"OggS" + bytes(60), "CRC|Ogg"),
        ("ogg-opus", None, b"fLaC" + bytes(60), "not an Ogg stream"),
    ],
)
def test_undecodable_streams_raise_a_clear_error(
    encoding: str | None, rate: int | None, data: bytes, message: str
) -> None:
    decoder = make_decoder(encoding, rate)
    with pytest.raises(AudioDecodeError, match=message):
        decoder.feed(data)
        decoder.flush()


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(AudioDecodeError, match="sample_rate"):
        make_decoder("linear16", None)
    with pytest.raises(AudioDecodeError, match="unsupported encoding"):
        make_decoder("flac", 16000)
    assert issubclass(AudioDecodeError, ValueError)


def test_a_stream_that_stops_before_its_container_is_known() -> None:
    decoder = make_decoder(None, None)
    assert decoder.feed(b"RI").size == 0
    with pytest.raises(AudioDecodeError, match="ended after 2 bytes"):
        decoder.flush()
    assert make_decoder(None, None).flush().size == 0


@pytest.mark.parametrize("encoding", ["mulaw", "alaw"])
def test_telephone_streams_lose_the_g711_offset(encoding: str) -> None:
    """G.711's rounding leaves a constant offset that Silero hears in phone-band speech
    (``flux_cli/audio/dc_block.py``); 8 kHz streams are decoded without it."""
    data = encode(tone(8000, 3.0, freq=300.0, amp=0.01), encoding)
    plain = soxr.resample(decode(data, encoding), 8000, SAMPLE_RATE)
    out = decode_all(make_decoder(encoding, 8000), data, [160, 7])
    settled = slice(SAMPLE_RATE, None)  # after the blocker's half-second window
    assert abs(float(np.mean(plain[settled]))) > 5e-6  # the codec's offset
    assert abs(float(np.mean(out[settled]))) < 1e-6
    assert np.sqrt(np.mean(out[settled] ** 2)) == pytest.approx(0.01 / np.sqrt(2), rel=0.03)


def test_an_8_khz_wav_loses_its_offset_too() -> None:
    data = wav_bytes(tone(8000, 2.0, freq=300.0, amp=0.1) + np.float32(0.01), 8000, "PCM_16")
    out = decode_all(make_decoder(None, None), data, [3, 41, 2560])
    assert abs(float(np.mean(out[SAMPLE_RATE:]))) < 1e-5


def test_a_phone_line_upsampled_by_the_client_loses_the_g711_offset_too() -> None:
    """A µ-law call resampled to 16 kHz before it was sent has nothing above the phone band
    (``flux_cli/audio/band_check.py``): its offset goes as an 8 kHz stream's does."""
    audio, rate = sf.read(clip_path("order_calling"), dtype="float32")
    line = phone_line(np.concatenate([audio, audio]), rate, np.random.default_rng(1))
    coded = decode(encode(line, "mulaw"), "mulaw")
    data = encode(soxr.resample(coded, 8000, SAMPLE_RATE).astype(np.float32), "linear16")
    sent = np.frombuffer(data, "<i2") / np.float32(32768.0)
    out = decode_all(make_decoder("linear16", SAMPLE_RATE), data, [640, 7])
    settled = slice(2 * SAMPLE_RATE, None)  # the verdict after 1 s, then the half-second window
    offset = abs(float(np.mean(sent[settled])))
    assert offset > 2e-5  # G.711's, kept by the client's resampler
    assert abs(float(np.mean(out[settled]))) < offset / 10


def test_the_decoder_says_when_the_stream_is_a_phone_line() -> None:
    """The session reads the VAD for phone-band speech only then (``pause_gate.py``)."""
    assert make_decoder("mulaw", 8000).phone_line
    wideband = make_decoder("linear16", SAMPLE_RATE)
    decode_all(wideband, encode(tone(SAMPLE_RATE, 2.0, freq=6000.0, amp=0.1), "linear16"),
               [640])
    assert not wideband.phone_line
    audio, rate = sf.read(clip_path("order_calling"), dtype="float32")
    coded = decode(encode(phone_line(audio, rate, np.random.default_rng(1)), "mulaw"), "mulaw")
    upsampled = make_decoder(None, None)
    assert not upsampled.phone_line  # nothing known before the first bytes
    decode_all(upsampled, wav_bytes(soxr.resample(coded, 8000, SAMPLE_RATE).astype(np.float32),
                                    SAMPLE_RATE, "PCM_16"), [640])
    assert upsampled.phone_line


def test_wideband_streams_are_not_filtered() -> None:
    """Full-band audio above 8 kHz is handed over as it was sent (no offset removed: 16 kHz
    linear16 arrives bit for bit)."""
    rng = np.random.default_rng(0)
    source = rng.normal(0.0, 0.05, 2 * SAMPLE_RATE).astype(np.float32) + np.float32(0.01)
    data = encode(source, "linear16")
    out = decode_all(make_decoder("linear16", SAMPLE_RATE), data, [2560])
    np.testing.assert_array_equal(out, np.frombuffer(data, "<i2") / np.float32(32768.0))
