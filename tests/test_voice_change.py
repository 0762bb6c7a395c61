"""Another voice after a pause ends the turn (mono calls): the session with a fake encoder.

Two "voices" are square waves of different pitch; the fake encoder's embedding is the share
of energy below and above 500 Hz, so the same voice scores ~1 and the other ~0. The real
encoder's separation is measured in the benchmark; here the state machine is checked.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from helpers.server_fakes import PINNED, CountingTranscriber, FixedSmartTurn, LevelVad, quiet

from flux_cli.engine.detector import DEFAULT_CONFIG, DetectorConfig
from flux_cli.engine.interfaces import SAMPLE_RATE, Audio
from flux_cli.engine.models.speaker import cosine
from flux_cli.engine.session import TurnSession
from flux_cli.protocol import StreamParams, TurnInfo


def voice(hz: float, seconds: float) -> Audio:
    t = np.arange(round(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return (0.3 * np.sign(np.sin(2 * np.pi * hz * t))).astype(np.float32)


class PitchEncoder:
    def embed(self, audio: Audio) -> np.ndarray:
        spectrum = np.abs(np.fft.rfft(audio)) ** 2
        hz = np.fft.rfftfreq(len(audio), 1 / SAMPLE_RATE)
        return np.array([spectrum[hz < 500].sum(), spectrum[hz >= 500].sum()], np.float32)

    def similarity(self, reference: Audio, new: Audio) -> float:
        return cosine(self.embed(reference), self.embed(new))

    def voice_vector(self, audio: Audio) -> np.ndarray:
        v = self.embed(audio)
        return (v / np.linalg.norm(v)).astype(np.float32)


def run(audio: Audio, *, speaker: PitchEncoder | None = None,
        voice_pauses: bool = True) -> list[TurnInfo]:
    session = TurnSession(vad=LevelVad(), transcriber=CountingTranscriber(),
                          smart_turn=FixedSmartTurn(0.05), params=StreamParams(),
                          request_id="r", config=PINNED, speaker=speaker,
                          voice_pauses=voice_pauses)
    out = session.start()
    for i in range(0, len(audio), 1280):
        out += session.feed(audio[i : i + 1280])
    return [m for m in out if isinstance(m, TurnInfo) and m.event != "Update"]


def call(second_hz: float, gap_s: float) -> Audio:
    return np.concatenate([quiet(0.5), voice(220, 1.5), quiet(gap_s), voice(second_hz, 1.5),
                           quiet(0.3)])


def test_another_voice_after_a_short_gap_ends_the_turn_within_600_ms() -> None:
    events = run(call(1500, 0.15), speaker=PitchEncoder())
    assert [m.event for m in events] == ["StartOfTurn", "EndOfTurn", "StartOfTurn"]
    first_end, second_start = events[1], events[2]
    change_s = 0.5 + 1.5 + 0.15
    assert first_end.trigger == "model"
    assert change_s < first_end.audio_window_end <= change_s + 0.6
    assert abs(second_start.audio_window_start - change_s) < 0.05  # the new voice's onset
    assert second_start.audio_window_end == first_end.audio_window_end
    # the ended turn holds only the first voice's words (one word per 0.25 s: 1.5 s -> 6)
    assert len(first_end.words) == 6


def test_by_default_the_pause_check_waits_for_the_calls_two_voices() -> None:
    # Without --voice-change only the call's voices judge a change, and 1.5 s of each voice is
    # too little to know them (2.4 s each): the first change of a call is not heard.
    events = run(call(1500, 0.15), speaker=PitchEncoder(), voice_pauses=False)
    assert [m.event for m in events] == ["StartOfTurn"]


def test_the_same_voice_after_the_same_gap_holds_the_turn() -> None:
    events = run(call(220, 0.15), speaker=PitchEncoder())
    assert [m.event for m in events] == ["StartOfTurn"]


def test_without_an_encoder_nothing_is_listened_for() -> None:
    events = run(call(1500, 0.15))
    assert [m.event for m in events] == ["StartOfTurn"]


def test_once_the_call_has_two_voices_a_change_with_no_pause_ends_the_turn() -> None:
    # 220 Hz, then 1500 Hz, then 220 Hz again, with no gap at all: the VAD never hears a pause.
    # The first change comes before the call's two voices are known (2.4 s of each); the
    # second is heard from the voices themselves.
    audio = np.concatenate([quiet(0.5), voice(220, 4.0), voice(1500, 4.0), voice(220, 3.0),
                            quiet(0.3)])
    events = run(audio, speaker=PitchEncoder())
    ends = [m for m in events if m.event == "EndOfTurn"]
    starts = [m for m in events if m.event == "StartOfTurn"]
    change_s = 0.5 + 8.0
    assert [round(m.audio_window_end, 2) for m in ends if m.audio_window_end < change_s] == []
    assert len(ends) == 1 and ends[0].trigger == "model"
    assert change_s < ends[0].audio_window_end <= change_s + 0.6
    # the next turn starts where the first block that sounds like the new voice starts: one
    # that is mostly the new voice may hold the last 0.16 s of the old one
    assert change_s - 0.2 <= starts[-1].audio_window_start <= change_s


def test_one_voice_speaking_on_is_never_split() -> None:
    events = run(np.concatenate([quiet(0.5), voice(220, 9.0), quiet(0.3)]), speaker=PitchEncoder())
    assert [m.event for m in events] == ["StartOfTurn"]


def test_a_change_after_a_dip_the_vad_does_not_count_as_a_pause_starts_at_the_dip() -> None:
    # 0.1 s of quiet between the second and third voice: too short for a pause, but the
    # VAD's probability dips. The block right after the dip is judged as soon as it is heard,
    # and the next turn starts where the new voice does, not at a block on the 0.16 s grid.
    audio = np.concatenate([quiet(0.5), voice(220, 4.0), voice(1500, 4.0), quiet(0.1),
                            voice(220, 3.0), quiet(0.3)])
    events = run(audio, speaker=PitchEncoder(), voice_pauses=False)
    ends = [m for m in events if m.event == "EndOfTurn"]
    starts = [m for m in events if m.event == "StartOfTurn"]
    onset_s = 0.5 + 8.0 + 0.1
    assert len(ends) == 1 and ends[0].trigger == "model"
    assert onset_s < ends[0].audio_window_end <= onset_s + 0.5
    assert abs(starts[-1].audio_window_start - onset_s) < 0.04


def with_profiles(**changes: object) -> DetectorConfig:
    """PINNED with the call's voices' settings changed."""
    voice = PINNED.voice_change
    assert voice.profiles is not None
    profiles = dataclasses.replace(voice.profiles, **changes)
    return dataclasses.replace(PINNED, voice_change=dataclasses.replace(voice, profiles=profiles))


def run_with(audio: Audio, config: DetectorConfig) -> list[TurnInfo]:
    session = TurnSession(vad=LevelVad(), transcriber=CountingTranscriber(),
                          smart_turn=FixedSmartTurn(0.05), params=StreamParams(),
                          request_id="r", config=config, speaker=PitchEncoder())
    out = session.start()
    for i in range(0, len(audio), 1280):
        out += session.feed(audio[i : i + 1280])
    return [m for m in out if isinstance(m, TurnInfo) and m.event != "Update"]


# Low, high, low, a short high (0.9 s), low, with no gaps: the call's voices are known from the
# second change on. The short turn began at a change; its own blocks say whose voice it is.
SHORT_TURN = np.concatenate([quiet(0.5), voice(220, 4.0), voice(1500, 4.0), voice(220, 3.0),
                             voice(1500, 0.9), voice(220, 2.0), quiet(0.3)])
BACK_S = 0.5 + 4.0 + 4.0 + 3.0 + 0.9  # the low voice comes back after the short turn


def test_a_turn_is_judged_against_its_own_voice_before_a_second_of_it_is_heard() -> None:
    events = run_with(SHORT_TURN, PINNED)
    ends = [m.audio_window_end for m in events if m.event == "EndOfTurn"]
    starts = [m.audio_window_start for m in events if m.event == "StartOfTurn"]
    assert len(ends) == 3  # 8.5 s, 11.5 s and the short turn's end
    assert BACK_S < ends[-1] <= BACK_S + 0.6
    assert BACK_S - 0.2 <= starts[-1] <= BACK_S
    # needing more blocks of its own than the 0.9 s turn holds, it is judged only once blocks
    # of the returning voice count as its own: too late for a 600 ms budget
    late = run_with(SHORT_TURN, with_profiles(own_blocks=6))
    assert [m.audio_window_end for m in late if m.event == "EndOfTurn"][-1] > BACK_S + 0.6


def test_blocks_are_judged_between_the_grid_points_once_the_voices_are_known() -> None:
    # no gap and no dip: the change is found by the first block judged that sounds more like
    # the new voice; judged every 0.096 s instead of every 0.16 s, it is found sooner
    audio = np.concatenate([quiet(0.5), voice(220, 4.0), voice(1500, 3.876), voice(220, 3.0),
                            quiet(0.3)])
    change_s = 0.5 + 7.876
    fine = run_with(audio, PINNED)
    coarse = run_with(audio, with_profiles(judge_hop_s=None))
    fine_end = [m.audio_window_end for m in fine if m.event == "EndOfTurn"][-1]
    coarse_end = [m.audio_window_end for m in coarse if m.event == "EndOfTurn"][-1]
    assert change_s < fine_end < coarse_end <= change_s + 0.6


def test_a_block_after_a_dip_is_judged_at_the_dip_margin() -> None:
    # With a margin no block can reach (cosines differ by at most 2), only a block next to a
    # dip of the VAD's can be called another voice, at ``dip_margin``: the change after the
    # 0.1 s dip ends the turn, the change with no dip does not.
    no_dip = np.concatenate([quiet(0.5), voice(220, 4.0), voice(1500, 4.0), voice(220, 3.0),
                             quiet(0.3)])
    dip = np.concatenate([quiet(0.5), voice(220, 4.0), voice(1500, 4.0), quiet(0.1),
                          voice(220, 3.0), quiet(0.3)])
    only_dips = with_profiles(margin=2.5, dip_margin=0.12)
    assert [m.event for m in run_with(no_dip, only_dips)] == ["StartOfTurn"]
    ends = [m for m in run_with(dip, only_dips) if m.event == "EndOfTurn"]
    onset_s = 0.5 + 8.0 + 0.1
    assert len(ends) == 1 and onset_s < ends[0].audio_window_end <= onset_s + 0.5
    # and with the dip margin as unreachable as the margin, neither ends
    never = with_profiles(margin=2.5, dip_margin=2.5)
    assert [m.event for m in run_with(dip, never)] == ["StartOfTurn"]



def with_floor(over_floor_db: float | None = DEFAULT_CONFIG.voice_change.over_floor_db
               ) -> DetectorConfig:
    """PINNED with the engine's floor (``level_floor.py``) that PINNED's steady waves leave off."""
    voice = dataclasses.replace(PINNED.voice_change, over_floor_db=over_floor_db)
    return dataclasses.replace(PINNED, voice_change=voice)


def babble(seconds: float, level: float = 0.11) -> Audio:
    """Other people talking under the call: a quieter 1500 Hz wave, heard by the VAD as speech."""
    return level * voice(1500, seconds) / 0.3


def test_babble_under_one_voice_is_not_taken_for_a_second_voice() -> None:
    # One voice (220 Hz, 4 s at a time, 9 dB over the babble) with 3 s of babble alone between:
    # the VAD never hears a pause. With no floor the babble alone forms a group of its own and
    # the caller's turn is handed over to it; at the call's floor it is neither kept nor judged
    # as a voice, and the one voice's turn holds.
    audio = babble(26.0)
    for start in (0.5, 7.5, 14.5, 21.5):
        at = round(start * SAMPLE_RATE)
        audio[at: at + round(4.0 * SAMPLE_RATE)] += voice(220, 4.0)
    assert "EndOfTurn" in [m.event for m in run_with(audio, with_floor(None))]
    assert [m.event for m in run_with(audio, with_floor())] == ["StartOfTurn"]


def test_two_voices_heard_over_babble_still_end_turns() -> None:
    # two voices (220 and 700 Hz) taking turns with 1 s of babble alone between: the floor is
    # the babble's, both voices are heard well above it, and a change ends the turn
    parts: list[Audio] = []
    for hz, seconds in ((220, 4.0), (700, 4.0), (220, 4.0), (700, 4.0), (220, 3.0)):
        parts += [babble(1.0), voice(hz, seconds) + babble(seconds)]
    audio = np.concatenate([*parts, quiet(0.3)])
    ends = [m.audio_window_end for m in run_with(audio, with_floor()) if m.event == "EndOfTurn"]
    # the call's voices are known from the third stretch on: the changes at 11, 16 and 21 s
    assert len(ends) == 3
    assert all(onset < end <= onset + 0.6 for onset, end in zip((11.0, 16.0, 21.0), ends,
                                                                 strict=True))
