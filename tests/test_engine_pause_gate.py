"""The pause gate on literal levels: babble near the floor is a pause, the caller is not; far
over the floor, the VAD's offset is enough to start speech."""

from __future__ import annotations

import dataclasses

import numpy as np
from helpers.server_fakes import PINNED, CountingTranscriber, FixedSmartTurn, LevelVad

from flux_cli.engine.detector import DEFAULT_CONFIG, DetectorConfig
from flux_cli.engine.interfaces import SAMPLE_RATE, Audio
from flux_cli.engine.pause_gate import PauseGate, PauseGateConfig
from flux_cli.engine.session import TurnSession
from flux_cli.engine.speech_tracker import SpeechTracker
from flux_cli.protocol import StreamParams, TurnInfo

CONFIG = PauseGateConfig(open_db=7.0, stay_db=3.0, smooth_windows=1, settle_s=0.0)


def verdicts(levels: list[float], floor: float | None = -40.0,
             config: PauseGateConfig = CONFIG, settle: int = 0) -> list[bool]:
    gate = PauseGate(config, settle)
    return [gate.step(level, floor) for level in levels]


def test_the_caller_opens_the_gate_and_babble_closes_it() -> None:
    # babble at 2 dB over the floor, then the caller at 12 dB, then babble again
    assert verdicts([-38, -28, -28, -38]) == [False, True, True, False]


def test_hysteresis_keeps_a_quiet_syllable_of_the_caller() -> None:
    # 5 dB over the floor: not enough to begin (7 dB), enough to go on (3 dB)
    assert verdicts([-40, -35, -28, -35, -35, -38, -35]) == [
        False, False, True, True, True, False, False]


def test_levels_are_smoothed_in_power() -> None:
    smooth = PauseGateConfig(open_db=7.0, stay_db=3.0, smooth_windows=2, settle_s=0.0)
    # one loud window next to one at the floor: their mean power is ~17 dB over it
    assert verdicts([-60, -20], floor=-40.0, config=smooth) == [False, True]
    # a click of one window among quiet ones
    assert verdicts([-40, -40, -31, -40], config=smooth)[2] is False


def test_no_floor_or_an_unsettled_one_leaves_the_vad_alone() -> None:
    assert verdicts([-40, -40], floor=None) == [True, True]
    assert verdicts([-40, -40, -40], settle=2) == [True, True, False]


def test_a_voiced_window_under_the_gate_is_a_pause_and_the_vad_keeps_its_hysteresis() -> None:
    tracker = SpeechTracker(DetectorConfig())
    assert tracker.step(0.9, 0, 512, in_pause=False, loud=True)
    assert not tracker.step(0.9, 512, 1024, in_pause=False, loud=False)
    assert tracker.last_end == 512 and tracker.voiced
    # the VAD's offset still holds (0.4 >= 0.35) while the level is back
    assert tracker.step(0.4, 1024, 1536, in_pause=False, loud=True)


def clear_verdicts(levels: list[float], config: PauseGateConfig = CONFIG,
                   settle: int = 0) -> list[bool]:
    gate = PauseGate(config, settle)
    out = []
    for level in levels:
        gate.step(level, -40.0)
        out.append(gate.clear)
    return out


def test_far_over_the_floor_a_window_is_clear() -> None:
    # 25 dB over the floor is clear (20 dB), 12 dB is loud but not clear
    assert CONFIG.clear_db == 20.0
    assert clear_verdicts([-15, -28, -20, -40]) == [True, False, True, False]
    assert clear_verdicts([-15, -15], settle=1) == [False, True]  # not while the floor settles
    never = dataclasses.replace(CONFIG, clear_db=None)
    assert clear_verdicts([-15, 0], config=never) == [False, False]


def test_a_clear_window_starts_speech_at_the_vads_offset() -> None:
    tracker = SpeechTracker(DetectorConfig())
    assert not tracker.step(0.45, 0, 512, in_pause=False)  # under the onset (0.5)
    assert tracker.step(0.45, 512, 1024, in_pause=False, clear=True)
    assert tracker.step(0.4, 1024, 1536, in_pause=False)  # the offset holds it, as ever
    assert not tracker.step(0.3, 1536, 2048, in_pause=False, clear=True)  # under the offset
    assert not tracker.step(0.45, 2048, 2560, in_pause=False, clear=True, loud=False)


# ------------------------------------------------------------------ in the session

def square(hz: float, seconds: float, level: float) -> Audio:
    t = np.arange(round(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return (level * np.sign(np.sin(2 * np.pi * hz * t))).astype(np.float32)


def caller_over_babble() -> Audio:
    """Babble all through (0.11, heard by the fake VAD as speech) and one caller 9 dB over it,
    4 s at a time with 3 s of babble alone between: the VAD never hears a pause."""
    audio = square(1500, 26.0, 0.11)
    for start in CALLER_AT:
        at = round(start * SAMPLE_RATE)
        audio[at: at + round(4.0 * SAMPLE_RATE)] += square(220, 4.0, 0.3)
    return audio


CALLER_AT = (0.5, 7.5, 14.5, 21.5)


def turns(audio: Audio, gate: PauseGateConfig | None) -> list[TurnInfo]:
    config = dataclasses.replace(PINNED, pause_gate=gate)
    session = TurnSession(vad=LevelVad(), transcriber=CountingTranscriber(),
                          smart_turn=FixedSmartTurn(0.9), params=StreamParams(),
                          request_id="r", config=config)
    out = session.start()
    for i in range(0, len(audio), 1280):
        out += session.feed(audio[i: i + 1280])
    return [m for m in out if isinstance(m, TurnInfo) and m.event != "Update"]


def test_without_the_gate_babble_holds_the_turn_for_ever() -> None:
    assert [m.event for m in turns(caller_over_babble(), None)] == ["StartOfTurn"]


def test_with_the_engines_gate_each_of_the_callers_stretches_ends_its_turn() -> None:
    gate = DEFAULT_CONFIG.pause_gate
    assert gate == PauseGateConfig(open_db=7.0, stay_db=3.0, smooth_windows=5, settle_s=2.0,
                                   clear_db=20.0)
    events = turns(caller_over_babble(), gate)
    starts = [m.audio_window_start for m in events if m.event == "StartOfTurn"]
    ends = [m.audio_window_end for m in events if m.event == "EndOfTurn"]
    # the first turn began on babble while the floor settled (the gate trusts it after 2 s);
    # the later ones begin with the caller (the level smoothed over 160 ms: within 0.1 s)
    assert starts[0] == 0.0
    assert all(at <= s <= at + 0.1 for at, s in zip(CALLER_AT[1:], starts[1:], strict=True))
    # and each ends once the caller's level has fallen back to the babble's
    assert all(at + 4.0 < e <= at + 4.4 for at, e in zip(CALLER_AT, ends, strict=True))


class HesitantVad(LevelVad):
    """Loud windows at 0.45: over the VAD's offset, under its onset (phone-band speech)."""

    def process(self, samples: Audio) -> list[float]:
        return [0.45 if p > 0.5 else p for p in super().process(samples)]


def sentences_on_a_quiet_line() -> Audio:
    """A line's hiss (-60 dBFS) and three stretches of loud sound, 40 dB over it."""
    audio = np.random.default_rng(0).normal(0.0, 0.001, round(16.0 * SAMPLE_RATE))
    for start in SENTENCES_AT:
        at = round(start * SAMPLE_RATE)
        audio[at: at + round(1.5 * SAMPLE_RATE)] += square(220, 1.5, 0.3)
    return audio.astype(np.float32)


SENTENCES_AT = (3.0, 7.5, 12.0)


def test_on_a_phone_line_sentences_the_vad_hesitates_over_start_turns() -> None:
    """Only on a phone line (the server says so): on full-band speech the VAD is sure of
    itself, and its onset stays the only way in."""
    def events(gate: PauseGateConfig, phone_line: bool) -> list[str]:
        config = dataclasses.replace(PINNED, pause_gate=gate)
        session = TurnSession(vad=HesitantVad(), transcriber=CountingTranscriber(),
                              smart_turn=FixedSmartTurn(0.9), params=StreamParams(),
                              request_id="r", config=config)
        session.phone_line = phone_line
        audio = sentences_on_a_quiet_line()
        out = session.start()
        for i in range(0, len(audio), 1280):
            out += session.feed(audio[i: i + 1280])
        return [m.event for m in out if isinstance(m, TurnInfo) and m.event != "Update"]

    gate = DEFAULT_CONFIG.pause_gate
    assert gate is not None
    assert events(gate, True) == ["StartOfTurn", "EndOfTurn"] * len(SENTENCES_AT)
    assert events(gate, False) == []
    assert events(dataclasses.replace(gate, clear_db=None), True) == []
