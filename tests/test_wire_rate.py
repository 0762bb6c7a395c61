"""The wire rate without ``--sample-rate``: phone-rate input goes at 8 kHz, the rest at 16 kHz.

Why it matters: a µ-law recording upsampled to 16 kHz misses 44.6% of turn ends on the local
engine against 10.7% sent at 8 kHz (``benchmarks/results/phone_offset.md``). Checked over
real loopback WebSockets against a scripted server, for every runner that streams a file:
one input, several inputs (each at its own rate), one input's channels, and ``flux eval``.
"""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import numpy as np
import pytest
from conftest import timeout
from helpers.cli import FLUX, env
from helpers.client_runs import settings, tone
from helpers.scripted_server import ScriptedServer

from flux_cli.env import Env
from flux_cli.evaluate.command import run as run_eval
from flux_cli.evaluate.settings import EvalSettings
from flux_cli.protocol import StreamParams
from flux_cli.transcribe.settings import TranscribeSettings, wire_rate_for
from flux_cli.transcribe.single import run


def _env() -> Env:
    return Env(io.BytesIO(), io.StringIO(), io.StringIO(), stdout_isatty=False)


def _rate(raw_query: str) -> int:
    return int(dict(p.split("=") for p in raw_query.split("&"))["sample_rate"])


@pytest.mark.parametrize(("input_rate", "wire"), [
    (6000, 8000), (8000, 8000), (11025, 16000), (16000, 16000), (44100, 16000), (48000, 16000),
])
def test_wire_rate_for_an_input(input_rate: int, wire: int) -> None:
    assert wire_rate_for(input_rate) == wire


def test_a_rate_the_user_chose_is_kept() -> None:
    chosen = TranscribeSettings("a.wav", StreamParams(sample_rate=16000))
    assert chosen.at_input_rate(8000).params.sample_rate == 16000
    picked = TranscribeSettings("a.wav", StreamParams(sample_rate=16000), sample_rate_given=False)
    assert picked.at_input_rate(8000).params.sample_rate == 8000
    assert picked.at_input_rate(48000) is picked
    opus = TranscribeSettings("a.ogg", StreamParams(encoding="ogg-opus", sample_rate=None),
                              sample_rate_given=False)
    assert opus.at_input_rate(8000).params.sample_rate is None


@pytest.mark.parametrize(("input_rate", "encoding", "wire", "frame_bytes"), [
    (8000, "linear16", 8000, 1280),
    (8000, "mulaw", 8000, 640),
    (44100, "linear16", 16000, 2560),
])
def test_one_file_goes_at_its_wire_rate(
    tmp_path: Path, input_rate: int, encoding: str, wire: int, frame_bytes: int
) -> None:
    tone(tmp_path / "a.wav", 1.0, rate=input_rate)
    params = StreamParams(encoding=encoding, sample_rate=16000)
    with ScriptedServer() as srv:
        code = run(settings(tmp_path / "a.wav", srv.url, params=params,
                            sample_rate_given=False), _env())
    assert code == 0
    assert f"encoding={encoding}&sample_rate={wire}" in srv.last.raw_query
    sizes = [len(f) for f, _ in srv.last.frames]
    assert sizes[:-1] == [frame_bytes] * (len(sizes) - 1)
    assert sum(sizes) == wire * frame_bytes // (wire * 80 // 1000)  # the one second, whole


def test_several_inputs_each_at_its_own_rate(tmp_path: Path) -> None:
    tone(tmp_path / "phone.wav", 1.0, rate=8000)
    tone(tmp_path / "wide.wav", 1.0, rate=48000)
    with ScriptedServer() as srv:
        result = subprocess.run(
            [*FLUX, "transcribe", str(tmp_path / "phone.wav"), str(tmp_path / "wide.wav"),
             "--url", srv.url, "--fast", "--output", "text"],
            capture_output=True, text=True, env=env(), timeout=timeout(60))
        rates = sorted(_rate(s.raw_query) for s in srv.sessions)
    assert result.returncode == 0, result.stderr
    assert rates == [8000, 16000]


def test_every_channel_of_a_phone_call_at_8_khz(tmp_path: Path) -> None:
    tone(tmp_path / "call.wav", 1.0, rate=8000, channels=2)
    with ScriptedServer() as srv:
        result = subprocess.run(
            [*FLUX, "transcribe", str(tmp_path / "call.wav"), "--multichannel", "--url",
             srv.url, "--fast", "--output", "text"],
            capture_output=True, text=True, env=env(), timeout=timeout(60))
        rates = [_rate(s.raw_query) for s in srv.sessions]
        sizes = [len(s.audio) for s in srv.sessions]
    assert result.returncode == 0, result.stderr
    assert rates == [8000, 8000] and sizes == [16000, 16000]


def test_a_flag_given_rate_wins_from_the_command_line(tmp_path: Path) -> None:
    tone(tmp_path / "phone.wav", 1.0, rate=8000)
    with ScriptedServer() as srv:
        result = subprocess.run(
            [*FLUX, "transcribe", str(tmp_path / "phone.wav"), "--sample-rate", "16000",
             "--url", srv.url, "--fast", "--output", "text"],
            capture_output=True, text=True, env=env(), timeout=timeout(60))
    assert result.returncode == 0, result.stderr
    assert _rate(srv.last.raw_query) == 16000 and len(srv.last.audio) == 32000


def test_eval_sends_a_phone_call_at_8_khz(tmp_path: Path) -> None:
    tone(tmp_path / "call.wav", 2.0, rate=8000, channels=2)
    with ScriptedServer() as srv:
        run_eval(EvalSettings(calls=[str(tmp_path / "call.wav")], url=srv.url, speed=0.0,
                              format="json"), _env())
        rates = [_rate(s.raw_query) for s in srv.sessions]
        sent = srv.last.audio
    assert rates == [8000]
    assert len(sent) == 2 * 16000  # the speaker's channel, two seconds of 16-bit samples
    assert np.frombuffer(sent, "<i2").any()
