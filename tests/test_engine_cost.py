"""The engine pays once for each piece of audio (issue: the engine's cost per stream).

Pure session tests with scripted fakes: a recording transcriber shows which slices were
decoded, so reuse and bounds are checked exactly, with no clock and no models.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from helpers.server_fakes import PINNED, FixedSmartTurn, LevelVad, script

from flux_cli.engine.interfaces import Audio, Transcript
from flux_cli.engine.session import TurnSession
from flux_cli.protocol import StreamParams, TurnInfo, Word


class RecordingTranscriber:
    """Says "hello there." and records every decoded slice as (offset_s, seconds)."""

    def __init__(self) -> None:
        self.slices: list[tuple[float, float]] = []

    def transcribe(
        self, audio: Audio, *, offset_s: float, hotwords: Sequence[str] = (),
        languages: object = None,
    ) -> Transcript:
        seconds = len(audio) / 16000
        self.slices.append((round(offset_s, 3), round(seconds, 3)))
        end = offset_s + seconds
        return Transcript("hello there.", [Word("hello", 0.9, offset_s, end - 0.3),
                                           Word("there.", 0.9, end - 0.3, end)])


def as_server(session: TurnSession, audio: Audio, frame: int = 1280) -> list[object]:
    """Feed like a caught-up connection: after each frame, run the interim job it is due."""
    out: list[object] = list(session.start())
    for i in range(0, len(audio), frame):
        out += session.feed(audio[i : i + frame])
        job = session.interim_job()
        if job is not None:
            session.apply_interim(job, job.run())
    return out


def session_with(transcriber: RecordingTranscriber, **config: float) -> TurnSession:
    return TurnSession(vad=LevelVad(), transcriber=transcriber, smart_turn=FixedSmartTurn(0.9),
                       params=StreamParams(), request_id="r", sync_interim=False,
                       config=dataclasses.replace(PINNED, **config))


def test_the_decision_reuses_the_interim_decode_of_the_same_slice() -> None:
    asr = RecordingTranscriber()
    session = session_with(asr)
    out = as_server(session, script(("silence", 0.5), ("speech", 1.6), ("silence", 2.0)))
    ends = [m for m in out if isinstance(m, TurnInfo) and m.event == "EndOfTurn"]
    assert len(ends) == 1 and ends[0].transcript == "hello there."
    assert len(asr.slices) == len(set(asr.slices))  # no slice was decoded twice
    decision_slice = asr.slices[-1]
    # the last decode is the interim asked for as the speech stopped: the decision used it
    assert decision_slice[1] < 1.6 + 0.2 + 0.15 + 0.05


def test_a_long_turns_interim_decodes_stay_bounded() -> None:
    asr = RecordingTranscriber()
    session = session_with(asr, interim_window_s=4.0, interim_interval_s=0.5)
    as_server(session, script(("silence", 0.5), ("speech", 20.0), ("silence", 2.0)))
    interims = asr.slices[1:-1]  # after the start decode, before the decision's
    assert len(interims) >= 20
    assert max(seconds for _, seconds in interims) <= 4.0 + 1e-6
    # ... while the decision still decodes the whole turn
    assert asr.slices[-1][1] > 19.0


def test_interim_decodes_come_once_per_interval_of_audio() -> None:
    asr = RecordingTranscriber()
    session = session_with(asr, interim_interval_s=1.0)
    as_server(session, script(("silence", 0.5), ("speech", 6.0), ("silence", 2.0)))
    interims = asr.slices[1:-1]
    assert 4 <= len(interims) <= 6  # ~one per second of speech, not one per frame


def test_the_shared_decision_slice_is_decoded_as_the_decision_would() -> None:
    """Interim text may be decoded cheaply, but never the slice a decision reads: the turns
    must not depend on whether an interim ran (real time) or not (--fast)."""
    final, interim = RecordingTranscriber(), RecordingTranscriber()
    session = TurnSession(vad=LevelVad(), transcriber=final, smart_turn=FixedSmartTurn(0.9),
                          params=StreamParams(), request_id="r", sync_interim=False,
                          config=PINNED, interim_transcriber=interim)
    as_server(session, script(("silence", 0.5), ("speech", 3.0), ("silence", 2.0)))
    assert interim.slices  # the speaking interims went to the cheap transcriber
    assert max(s for _, s in final.slices) > max(s for _, s in interim.slices)
    assert final.slices[-1][1] > 3.0  # the whole turn, for the decision, by the final one
