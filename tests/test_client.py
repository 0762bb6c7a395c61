"""The streaming client over real loopback WebSockets against a scripted server.

These run ``flux_cli.transcribe.single.run`` in-process (real audio files, real sockets, real
threads) with swapped stdout/stderr, and look at both what the server received and what
the user was shown.
"""

from __future__ import annotations

import io
import json
import socket
import statistics
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr
from conftest import timeout
from helpers.client_runs import TURNS, settings, tone
from helpers.scripted_server import REQUEST_ID, Script, ScriptedServer, Step, turn

from flux_cli.client.events import ConnectionInfo, Progress, Received, Reconnect
from flux_cli.client.feed import AudioFeed
from flux_cli.client.shell import Session
from flux_cli.env import Env
from flux_cli.errors import AudioInputError, ConnectionFailed, ServerError, UsageError
from flux_cli.protocol import StreamParams
from flux_cli.transcribe.single import run


def opus_of(wav: Path, ogg: Path) -> None:
    """Ogg/Opus made from ``wav`` by libsndfile (48 kHz in, as Opus itself runs)."""
    data, rate = sf.read(wav, dtype="float32", always_2d=True)
    sf.write(ogg, data, rate, format="OGG", subtype="OPUS")


class Streams:
    def __init__(self, stdin: bytes = b"") -> None:
        self.out = io.StringIO()
        self.err = io.StringIO()
        self.env = Env(
            stdin=io.BytesIO(stdin), stdout=self.out, stderr=self.err, stdout_isatty=False
        )


def test_frames_query_header_and_close_stream(tmp_path: Path) -> None:
    mono = tone(tmp_path / "a.wav", 2.0)
    streams = Streams()
    params = StreamParams(
        eot_threshold=0.8,
        eager_eot_threshold=0.5,
        eot_timeout_ms=3000,
        keyterm=["Flux", "Deep gram"],
        mip_opt_out=True,
        tag=["a", "b"],
    )
    with ScriptedServer(Script(steps=TURNS)) as srv:
        code = run(
            settings(tmp_path / "a.wav", srv.url, params=params, api_key="k-123456"), streams.env
        )
        rec = srv.last
        assert rec.done.wait(timeout(5))
    assert code == 0
    assert rec.path == "/v2/listen"
    assert rec.raw_query == (
        "model=flux-general-en&encoding=linear16&sample_rate=16000&eot_threshold=0.8"
        "&eager_eot_threshold=0.5&eot_timeout_ms=3000&keyterm=Flux&keyterm=Deep+gram"
        "&mip_opt_out=true&tag=a&tag=b"
    )
    assert rec.headers["authorization"] == "Token k-123456"
    assert [len(f) for f, _ in rec.frames] == [2560] * 25
    assert len(rec.audio) == len(mono) * 2
    sent = np.frombuffer(rec.audio, dtype="<i2").astype(np.float32) / 32768
    assert np.max(np.abs(sent - mono)) < 2e-4
    assert rec.events[-1] == "CloseStream" and rec.events.count("CloseStream") == 1
    assert rec.events[:-1] == ["binary"] * 25
    assert streams.out.getvalue().splitlines() == [
        "[00:00.00-00:00.80] Hello, how are you?",
        "[00:01.00-00:02.00] Fine thanks (unfinished)",
    ]


def test_no_api_key_sends_no_authorization(tmp_path: Path) -> None:
    tone(tmp_path / "a.wav", 0.5)
    with ScriptedServer() as srv:
        assert run(settings(tmp_path / "a.wav", srv.url), Streams().env) == 0
    assert "authorization" not in srv.last.headers


def test_force_end_turn_goes_right_before_close_stream(tmp_path: Path) -> None:
    tone(tmp_path / "a.wav", 1.0)
    script = Script(
        steps=[
            Step(3, turn("StartOfTurn", 0, 0.0, 0.24, "Stop")),
            Step("ForceEndTurn", turn("EndOfTurn", 0, 0.0, 1.0, "Stop here.", trigger="manual")),
        ]
    )
    streams = Streams()
    with ScriptedServer(script) as srv:
        code = run(
            settings(tmp_path / "a.wav", srv.url, force_end_turn=True, output="json"), streams.env
        )
    assert code == 0
    assert srv.last.events[-2:] == ["ForceEndTurn", "CloseStream"]
    assert srv.last.events[:-2] == ["binary"] * 13  # 1 s = 12.5 frames: the last one is short
    record = json.loads(streams.out.getvalue())
    assert record["transcript"] == "Stop here." and record["trigger"] == "manual"
    assert record["finished"] is True


def test_real_time_pacing(tmp_path: Path) -> None:
    tone(tmp_path / "a.wav", 2.0)
    with ScriptedServer() as srv:
        assert run(settings(tmp_path / "a.wav", srv.url, speed=1.0), Streams().env) == 0
    times = [t for _, t in srv.last.frames]
    offsets = [(t - times[0]) - i * 0.08 for i, t in enumerate(times)]
    assert statistics.mean(abs(o) for o in offsets) < 0.015
    assert 1.8 < times[-1] - times[0] < 2.5


def test_double_speed_takes_half_the_time(tmp_path: Path) -> None:
    tone(tmp_path / "a.wav", 2.0)
    with ScriptedServer() as srv:
        assert run(settings(tmp_path / "a.wav", srv.url, speed=2.0), Streams().env) == 0
    times = [t for _, t in srv.last.frames]
    assert 0.85 < times[-1] - times[0] < 1.3


@pytest.mark.parametrize("kind", ["stereo44k", "mp3", "ogg-opus"])
def test_other_inputs_reach_the_server_as_16k_mono_frames(tmp_path: Path, kind: str) -> None:
    wav = tmp_path / "in.wav"
    if kind == "stereo44k":
        mono = tone(wav, 1.5, rate=44100, channels=2)
        source = wav
        expected = len(soxr.resample(mono, 44100, 16000))
    else:
        tone(wav, 1.5, rate=48000)
        source = tmp_path / ("in.mp3" if kind == "mp3" else "in.ogg")
        if kind == "mp3":
            data, rate = sf.read(wav, dtype="float32")
            # constant bit rate, as ``ffmpeg -c:a libmp3lame`` writes by default
            sf.write(
                source, data, rate, format="MP3", bitrate_mode="CONSTANT", compression_level=0.65
            )
        else:
            opus_of(wav, source)
        expected = None
    with ScriptedServer() as srv:
        assert run(settings(source, srv.url), Streams().env) == 0
    sizes = [len(f) for f, _ in srv.last.frames]
    assert sizes[:-1] == [2560] * (len(sizes) - 1) and 0 < sizes[-1] <= 2560
    if expected is not None:
        assert len(srv.last.audio) == expected * 2
    else:  # decoders may pad the edges by a few ms
        assert abs(len(srv.last.audio) / 2 / 16000 - 1.5) < 0.1


def test_ogg_opus_passthrough(tmp_path: Path) -> None:
    wav, ogg = tmp_path / "in.wav", tmp_path / "in.ogg"
    tone(wav, 1.5, rate=48000)
    opus_of(wav, ogg)
    params = StreamParams(encoding="ogg-opus", sample_rate=None)
    with ScriptedServer() as srv:
        assert run(settings(ogg, srv.url, params=params), Streams().env) == 0
    assert "encoding=ogg-opus" in srv.last.raw_query
    assert "sample_rate" not in srv.last.raw_query
    assert srv.last.audio == ogg.read_bytes()
    assert srv.last.frames[0][0].startswith(b"OggS")


def test_ogg_opus_encoding_needs_ogg_input(tmp_path: Path) -> None:
    tone(tmp_path / "a.wav", 0.5)
    params = StreamParams(encoding="ogg-opus", sample_rate=None)
    with pytest.raises(UsageError, match="ogg-opus"):
        run(
            settings(tmp_path / "a.wav", "ws://127.0.0.1:9/v2/listen", params=params), Streams().env
        )


def test_jsonl_log_holds_every_message(tmp_path: Path) -> None:
    tone(tmp_path / "a.wav", 2.0)
    log = tmp_path / "log.jsonl"
    with ScriptedServer(Script(steps=TURNS)) as srv:
        assert run(settings(tmp_path / "a.wav", srv.url, jsonl=str(log)), Streams().env) == 0
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    ours = [r for r in lines if str(r.get("type")).startswith("flux.")]
    assert [r["type"] for r in ours] == ["flux.request", "flux.end"]
    assert lines[0] is ours[0] and lines[-1] is ours[1]
    assert ours[0]["url"].startswith(srv.url + "?model=flux-general-en")
    records = lines[1:-1]
    assert [r["sequence_id"] for r in records] == [0, 1, 2, 3, 4]
    assert records[0] == {
        "type": "Connected",
        "request_id": REQUEST_ID,
        "sequence_id": 0,
        "received_at": records[0]["received_at"],
    }
    assert [r.get("event") for r in records[1:]] == [
        "StartOfTurn",
        "EndOfTurn",
        "StartOfTurn",
        "Update",
    ]
    assert all(isinstance(r["received_at"], float) for r in records)


def test_jsonl_to_stdout_replaces_the_text_output(tmp_path: Path) -> None:
    tone(tmp_path / "a.wav", 2.0)
    streams = Streams()
    with ScriptedServer(Script(steps=TURNS)) as srv:
        code = run(settings(tmp_path / "a.wav", srv.url, jsonl="-", output="auto"), streams.env)
    assert code == 0
    lines = streams.out.getvalue().splitlines()
    assert len(lines) == 7 and all(json.loads(line)["type"] for line in lines)


def test_unknown_messages_and_warnings_are_shown_not_fatal(tmp_path: Path) -> None:
    tone(tmp_path / "a.wav", 1.0)
    script = Script(
        steps=[
            Step(2, {"type": "Telemetry", "load": 3}),
            Step(
                3,
                {
                    "type": "Warning",
                    "code": "FORCE_END_TURN_NO_ACTIVE_TURN",
                    "description": "there is no turn to end",
                },
            ),
            Step(4, "this is not json"),
            Step(5, turn("StartOfTurn", 0, 0.0, 0.4, "Odd")),
            Step(6, turn("Pondering", 0, 0.0, 0.48, "Odd one")),
            Step(7, turn("EndOfTurn", 0, 0.0, 0.56, "Odd one.", trigger="vibes")),
        ]
    )
    streams = Streams()
    with ScriptedServer(script) as srv:
        assert run(settings(tmp_path / "a.wav", srv.url), streams.env) == 0
    err = streams.err.getvalue()
    assert "unknown message type 'Telemetry'" in err
    assert "FORCE_END_TURN_NO_ACTIVE_TURN" in err
    assert "not JSON" in err
    assert "unknown event 'Pondering'" in err and "unknown trigger 'vibes'" in err
    assert streams.out.getvalue() == "[00:00.00-00:00.56] Odd one.\n"


class Collect:
    def __init__(self) -> None:
        self.messages: list[Received] = []
        self.info: ConnectionInfo | None = None
        self.reconnects: list[Reconnect] = []

    def on_connected(self, info: ConnectionInfo) -> None:
        self.info = info

    def on_message(self, received: Received) -> None:
        self.messages.append(received)

    def on_progress(self, progress: Progress) -> None:
        pass

    def on_reconnect(self, event: Reconnect) -> None:
        self.reconnects.append(event)


def frames_of(seconds: float) -> AudioFeed:
    count = round(seconds / 0.08)
    return AudioFeed(iter([b"\0\0" * 1280] * count), 32000.0)


def test_server_delay_is_measured_from_the_frame_holding_the_window_end() -> None:
    script = Script(
        steps=[
            Step(10, turn("EndOfTurn", 0, 0.0, 0.8, "Hi.", trigger="model")),
            Step(12, turn("Update", 1, 0.8, 99.0, "")),
        ]
    )
    collect = Collect()
    with ScriptedServer(script) as srv:
        outcome = Session(srv.url, frames_of(1.2), collect).run()
    assert outcome.close_code is None and not outcome.interrupted and outcome.error is None
    eot = collect.messages[1]
    assert eot.message is not None and eot.message.type == "TurnInfo"
    assert eot.server_delay_s is not None and 0 <= eot.server_delay_s < timeout(1.0)
    assert collect.messages[2].server_delay_s is None  # beyond what was sent: unknown
    assert collect.info is not None and collect.info.host == f"127.0.0.1:{srv.port}"


def test_pings_keep_a_quiet_connection_alive() -> None:
    script = Script(close_delay_s=1.0)
    with ScriptedServer(script) as srv:
        outcome = Session(srv.url, frames_of(0.16), Collect(), ping_interval_s=0.2).run()
    assert outcome.close_code is None
    assert len(srv.last.pings) >= 3


# ----------------------------------------------------------------------------- failures


def test_refused_handshake(tmp_path: Path) -> None:
    tone(tmp_path / "a.wav", 0.5)
    with (
        ScriptedServer(Script(refuse=(401, "Invalid credentials."))) as srv,
        pytest.raises(ConnectionFailed) as info,
    ):
        run(settings(tmp_path / "a.wav", srv.url, api_key="secret-key"), Streams().env)
    assert info.value.exit_code == 4
    assert info.value.message == (
        f"handshake refused: HTTP 401; dg-error: Invalid credentials.; dg-request-id: {REQUEST_ID}"
    )


def test_nothing_listening(tmp_path: Path) -> None:
    tone(tmp_path / "a.wav", 0.5)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ConnectionFailed, match=f"cannot connect to 127.0.0.1:{port}"):
        run(settings(tmp_path / "a.wav", f"ws://127.0.0.1:{port}/v2/listen"), Streams().env)


def test_server_error_after_turns_are_shown(tmp_path: Path) -> None:
    tone(tmp_path / "a.wav", 2.0)
    script = Script(
        steps=[
            Step(3, turn("EndOfTurn", 0, 0.0, 0.24, "Before.", trigger="model")),
            Step(
                6,
                {
                    "type": "Error",
                    "code": "INTERNAL_SERVER_ERROR",
                    "description": "the model fell over",
                },
                close_after=True,
            ),
        ],
        close_code=1011,
    )
    streams = Streams()
    with ScriptedServer(script) as srv, pytest.raises(ServerError) as info:
        run(settings(tmp_path / "a.wav", srv.url), streams.env)
    assert info.value.exit_code == 5
    assert info.value.message == "server error INTERNAL_SERVER_ERROR: the model fell over"
    assert streams.out.getvalue() == "[00:00.00-00:00.24] Before.\n"


def test_abrupt_drop_reports_what_was_received(tmp_path: Path) -> None:
    tone(tmp_path / "a.wav", 2.0)
    script = Script(steps=[Step(3, turn("StartOfTurn", 0, 0.0, 0.24, "Cut"))], drop_after_frames=8)
    streams = Streams()
    with ScriptedServer(script) as srv, pytest.raises(ConnectionFailed) as info:
        run(settings(tmp_path / "a.wav", srv.url, speed=4.0, reconnect=0), streams.env)
    assert info.value.exit_code == 4
    assert "connection dropped" in info.value.message
    assert streams.out.getvalue() == "[00:00.00-00:00.24] Cut (unfinished)\n"


def test_server_closing_before_the_audio_ends(tmp_path: Path) -> None:
    tone(tmp_path / "a.wav", 2.0)
    script = Script(
        steps=[Step(3, turn("Update", 0, 0.0, 0.24, ""), close_after=True)], close_code=1000
    )
    with ScriptedServer(script) as srv, pytest.raises(ConnectionFailed, match="before the end"):
        run(settings(tmp_path / "a.wav", srv.url, speed=4.0), Streams().env)


def test_bad_values_fail_before_connecting(tmp_path: Path) -> None:
    tone(tmp_path / "a.wav", 0.5)
    with ScriptedServer() as srv:
        for params, fragment in [
            (StreamParams(eot_threshold=2.0), "eot_threshold must be between 0.5 and 1"),
            (StreamParams(sample_rate=22050), "sample_rate must be one of"),
            (StreamParams(eot_threshold=0.6, eager_eot_threshold=0.8), "must not exceed"),
            (StreamParams(encoding="flac"), "encoding must be one of"),
        ]:
            with pytest.raises(UsageError, match=fragment):
                run(settings(tmp_path / "a.wav", srv.url, params=params), Streams().env)
        with pytest.raises(UsageError, match="chunk-ms"):
            run(settings(tmp_path / "a.wav", srv.url, chunk_ms=0), Streams().env)
        with pytest.raises(UsageError, match="ws:// or wss://"):
            run(settings(tmp_path / "a.wav", "http://example.com"), Streams().env)
        assert srv.sessions == []


@pytest.mark.parametrize("content", [b"", b"RIFF\x10\x00\x00\x00WAVEjunkjunkjunk", b"\x00" * 7])
def test_bad_audio_fails_before_connecting(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.wav"
    path.write_bytes(content)
    with ScriptedServer() as srv:
        with pytest.raises(AudioInputError) as info:
            run(settings(path, srv.url), Streams().env)
        assert srv.sessions == []
    assert info.value.exit_code == 3 and "\n" not in info.value.message


def test_silent_but_valid_empty_wav_is_an_audio_error(tmp_path: Path) -> None:
    path = tmp_path / "empty.wav"
    sf.write(path, np.zeros(0, dtype=np.float32), 16000)
    with ScriptedServer() as srv:
        with pytest.raises(AudioInputError, match="no audio"):
            run(settings(path, srv.url), Streams().env)
        assert srv.sessions == []


def test_stdin_wav_is_not_paced(tmp_path: Path) -> None:
    tone(tmp_path / "a.wav", 2.0)
    streams = Streams(stdin=(tmp_path / "a.wav").read_bytes())
    with ScriptedServer() as srv:
        assert run(settings("-", srv.url, speed=1.0), streams.env) == 0
    times = [t for _, t in srv.last.frames]
    assert len(times) == 25 and times[-1] - times[0] < 1.0


@pytest.mark.parametrize(
    ("encoding", "rate", "chunk_ms", "size"),
    [
        ("mulaw", 8000, 80, 640),
        ("alaw", 8000, 80, 640),
        ("linear32", 16000, 80, 5120),
        ("linear16", 48000, 80, 7680),
        ("linear16", 16000, 20, 640),
    ],
)
def test_wire_encodings_and_chunk_sizes(
    tmp_path: Path, encoding: str, rate: int, chunk_ms: int, size: int
) -> None:
    tone(tmp_path / "a.wav", 1.0)
    params = StreamParams(encoding=encoding, sample_rate=rate)
    with ScriptedServer() as srv:
        code = run(
            settings(tmp_path / "a.wav", srv.url, params=params, chunk_ms=chunk_ms), Streams().env
        )
    assert code == 0
    assert f"encoding={encoding}&sample_rate={rate}" in srv.last.raw_query
    sizes = [len(f) for f, _ in srv.last.frames]
    assert sizes[:-1] == [size] * (len(sizes) - 1) and 0 < sizes[-1] <= size
    bytes_per_sample = size // (rate * chunk_ms // 1000)
    assert sum(sizes) == rate * bytes_per_sample  # exactly the one second of audio


def test_a_server_that_never_closes_is_given_up_on() -> None:
    with ScriptedServer(Script(close_on_close_stream=False)) as srv:
        session = Session(srv.url, frames_of(0.24), Collect(), final_silence_s=0.5)
        with pytest.raises(ConnectionFailed, match="did not close the stream"):
            session.run()
    assert srv.last.events[-1] == "CloseStream"


def test_channel_picks_one_channel(tmp_path: Path) -> None:
    tone(tmp_path / "st.wav", 1.0, channels=2)
    data, _ = sf.read(tmp_path / "st.wav", dtype="int16", always_2d=True)
    with ScriptedServer() as srv:
        assert run(settings(tmp_path / "st.wav", srv.url, channel=1), Streams().env) == 0
    assert srv.last.audio == np.ascontiguousarray(data[:, 1]).astype("<i2").tobytes()


def test_audio_failing_mid_stream_is_exit_3_after_the_server_answers(tmp_path: Path) -> None:
    wav, ogg = tmp_path / "in.wav", tmp_path / "in.ogg"
    tone(wav, 1.5, rate=48000)
    opus_of(wav, ogg)
    good = ogg.read_bytes()
    ogg.write_bytes(good + b"this is not an Ogg page" * 4)
    script = Script(steps=[Step("CloseStream", turn("Update", 0, 0.0, 1.5, "So far"))])
    streams = Streams()
    params = StreamParams(encoding="ogg-opus", sample_rate=None)
    with ScriptedServer(script) as srv, pytest.raises(AudioInputError, match="corrupt"):
        run(settings(ogg, srv.url, params=params), streams.env)
    assert srv.last.audio == good
    assert srv.last.events[-1] == "CloseStream"
    assert streams.out.getvalue() == "[00:00.00-00:01.50] So far (unfinished)\n"
