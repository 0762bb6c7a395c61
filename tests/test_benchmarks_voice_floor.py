"""How far above the call's floor a voice is heard: the benchmark's parts on literal inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from benchmarks import voice_floor
from benchmarks.corpus import Call
from benchmarks.synth import TurnLabel

SR = 16000


def wave(amplitude: float, seconds: float, period: int = 40) -> np.ndarray:
    t = np.arange(round(seconds * SR))
    return (amplitude * np.where(t // (period // 2) % 2 == 0, 1.0, -1.0)).astype(np.float32)


def test_a_voice_over_babble_is_heard_above_the_floor_and_the_babble_is_not() -> None:
    # 4 s of babble alone, then 2 s of a voice 12 dB over it (babble still under it)
    audio = np.concatenate([wave(0.05, 4.0), wave(0.05, 2.0) + wave(0.2, 2.0, 64)])
    ends = np.array([round(3.84 * SR), round(5.92 * SR)])  # on the 32 ms grid
    babble, voice = voice_floor.over_floor(audio, ends)
    assert abs(babble) < 0.5
    assert 11.0 < voice < 13.0


def test_blocks_are_one_voice_alone_or_an_edge() -> None:
    call = Call("c", Path("c.wav"), 10.0, "a,b",
                [TurnLabel("hello there", 1.0, 3.0, voice="a"),
                 TurnLabel("yes", 3.1, 4.0, voice="b")])
    ends = np.array([2.0, 3.05, 3.3, 6.0]) * SR
    assert voice_floor.block_kinds(call, ends).tolist() == [1, -1, -1, 0]


def test_the_levels_table_counts_what_each_gate_keeps() -> None:
    over = [np.array([10.0, 12.0, 4.0, 2.0, 3.0, 8.0])]
    kinds = [np.array([1, 1, 1, 0, 0, 0])]
    lv = voice_floor.levels(over, kinds)
    assert (lv["voice_blocks"], lv["alone_blocks"]) == (3, 3)
    by_gate = {g["gate"]: g for g in lv["gates"]}
    assert by_gate[5.0] == {"gate": 5.0, "voice_dropped": round(1 / 3, 3),
                            "alone_kept": round(1 / 3, 3)}
    assert by_gate[3.0]["alone_kept"] == round(2 / 3, 3)


def test_a_gate_keeps_the_blocks_at_or_above_it() -> None:
    data = {"ends": np.array([1, 2, 3]), "vectors": np.eye(3, dtype=np.float32)}
    kept = voice_floor.gated(data, np.array([5.0, 4.9, 6.0]), 5.0)
    assert kept["ends"].tolist() == [1, 3] and len(kept["vectors"]) == 2
    assert voice_floor.gated(data, np.array([0.0, 0.0, 0.0]), None)["ends"].tolist() == [1, 2, 3]
