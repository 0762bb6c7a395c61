"""The training replay and fit: pure parts on literal pauses, no models or corpus."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from benchmarks import eot_train
from benchmarks.eot_train import Pause, PauseRecord, model_rule, replay, samples
from benchmarks.scoring import Event
from benchmarks.synth import TurnLabel
from benchmarks.turns import handover
from flux_cli.engine.detector import DEFAULT_CONFIG, Detector
from flux_cli.engine.eot_model import EotModel

MODEL = EotModel({"bias": -2.0, "silence_s": 4.0, "kind_period": 1.0,
                  "kind_continuation": -3.0})


def pause(speech_end: float, *, text: str, length: float, is_end: bool,
          label_end: float = 10.0, windows: list[tuple[float, float]] | None = None) -> Pause:
    record = PauseRecord(speech_end, speech_end + 0.192, None if is_end else speech_end + length,
                         0.5, text, [], 1.0)
    return Pause(record, is_end, math.inf if is_end else length, label_end, windows or [])


@pytest.mark.parametrize("text", ["Thank you.", "a table for"])
def test_replayed_end_is_where_the_live_detector_reaches_the_threshold(text: str) -> None:
    p = pause(5.0, text=text, length=math.inf, is_end=True)
    s = model_rule(MODEL, 0.7)(p)
    detector = Detector(dataclasses.replace(DEFAULT_CONFIG, model=MODEL))
    line = detector.judge(p.record.evidence())
    assert detector.paused(line, s) == pytest.approx(0.7, abs=1e-9) or (
        s == pytest.approx(0.192) and detector.paused(line, s) >= 0.7)


def test_replay_counts_a_cut_inside_a_pause_and_the_latency_at_the_end() -> None:
    turn = [
        pause(2.0, text="I was thinking.", length=1.0, is_end=False, windows=[(2.0, 3.0)]),
        pause(5.0, text="Thank you.", length=math.inf, is_end=True, label_end=4.95),
    ]
    result = replay([turn], model_rule(MODEL, 0.7))
    assert result.pauses == 1 and result.cut == 1  # "I was thinking." reads as finished
    waits = [pause(2.0, text="I was thinking and", length=0.8, is_end=False,
                   windows=[(2.0, 2.8)]), turn[1]]
    kept = replay([waits], model_rule(MODEL, 0.7))
    assert kept.cut == 0 and kept.missed == 0
    assert kept.latencies[0] == pytest.approx(5.0 - 4.95 + model_rule(MODEL, 0.7)(turn[1]))


def test_hazard_samples_stop_when_an_inside_pause_ends() -> None:
    inside = pause(2.0, text="and", length=0.45, is_end=False)
    end = pause(5.0, text="Bye.", length=math.inf, is_end=True)
    xs, ys = samples([[inside, end]])
    inside_s = [x["silence_s"] for x, y in zip(xs, ys, strict=True) if y == 0]
    assert inside_s == [s for s in eot_train.SILENCE_GRID if 0.192 <= s < 0.45]
    assert sum(ys) == len([s for s in eot_train.SILENCE_GRID if s >= 0.192])


def test_handover_needs_the_end_before_the_next_speaker_and_none_of_their_words() -> None:
    a = TurnLabel("I need to change my address.", 0.5, 3.0, voice="real")
    b = TurnLabel("Sure, what is the new one?", 3.3, 5.0, voice="neural")
    on_time = Event("EndOfTurn", 0, 0.5, 3.3, "I need to change my address.")
    late = Event("EndOfTurn", 0, 0.5, 4.0, "I need to change my address. Sure, what")
    assert handover([a, b], [on_time]) == (1, 1)
    assert handover([a, b], [late]) == (0, 1)
    merged = Event("EndOfTurn", 0, 0.5, 3.5, "I need to change my address. Sure")
    assert handover([a, b], [merged]) == (0, 1)


def test_excluded_features_never_reach_the_samples() -> None:
    record = PauseRecord(2.0, 2.192, None, 0.5, "I would like a table for", [], 1.0,
                         sentence_end=0.1)
    end = Pause(record, True, math.inf, 2.0, [])
    xs, _ = samples([[end]])
    assert all("whisper_end" in x and "text_eou" in x for x in xs)
    kept, _ = samples([[end]], exclude=eot_train.TEXT_SIGNALS)
    assert kept and all("whisper_end" not in x and "text_eou" not in x for x in kept)


def test_a_held_out_family_trains_on_no_set_that_holds_its_voices() -> None:
    for family, holding in eot_train.FAMILY_SETS.items():
        assert family in holding
        train = eot_train.sets_without(family)
        assert train and family not in train
        # the mixed sets hold both natural voices: never trained on with either held out
        if family != "synthetic":
            assert not {"twoparty", "noisy20", "noisy10", "tel8k"} & set(train)


def test_a_speaker_change_counts_as_ended_only_within_600_ms_of_the_new_voice() -> None:
    from benchmarks.turns import speaker_changes_ended

    a = TurnLabel("I need to change my address.", 0.5, 3.0, voice="real")
    b = TurnLabel("Sure, what is the new one?", 3.1, 5.0, voice="neural")
    c = TurnLabel("It is twelve Main Street.", 5.2, 7.0, voice="real")
    in_time = Event("EndOfTurn", 0, 0.5, 3.6, "I need to change my address.")
    late = Event("EndOfTurn", 0, 0.5, 3.8, "I need to change my address. Sure")
    assert speaker_changes_ended([a, b, c], [in_time]) == (1, 2)
    assert speaker_changes_ended([a, b, c], [late]) == (0, 2)
    same_voice = TurnLabel("And the postcode.", 3.1, 4.0, voice="real")
    assert speaker_changes_ended([a, same_voice], [in_time]) == (0, 0)


def test_the_targets_name_the_worst_family_and_check_the_two_party_calls() -> None:
    from benchmarks.turns import targets

    def row(cut: float, p50: float, p90: float, changes: tuple[int, int] = (0, 0)
            ) -> dict[str, object]:
        ended, total = changes
        return {"false_cutoff_rate": cut, "eot_p50": p50, "eot_p90": p90, "missed_rate": 0.0,
                "speaker_changes": {"ended": ended, "changes": total,
                                    "rate": ended / total if total else None}}

    t = targets({"real": row(0.20, 0.45, 1.0), "neural": row(0.08, 0.40, 0.9),
                 "twoparty_close": row(0.07, 0.5, 0.8, (9, 10))})
    assert t["worst"] == "real"
    assert t["families"]["neural"]["met"] and not t["families"]["real"]["met"]
    assert t["two_party"]["changes_ok"] and t["two_party"]["cut_ok"]  # 90%; 7% <= 8%


def test_missing_pause_evidence_says_what_to_collect(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    # a fresh machine has none: `benchmarks.turns` once died here with a traceback after 19 min
    monkeypatch.setattr(eot_train, "EVIDENCE_DIR", tmp_path)
    with pytest.raises(SystemExit) as info:
        eot_train.load("real", "train")
    assert "benchmarks.eot_train collect --sets real --splits train" in str(info.value)


def test_the_streams_table_measured_again_says_so(tmp_path: Path) -> None:
    # ``turns --realtime-only`` keeps every other table of turns.json and heads the streams
    # table with when it was measured again; with no turns.json it says what to run first
    import json

    from benchmarks.turns import markdown, realtime_again

    results = json.loads((Path(__file__).parents[1] / "benchmarks" / "results" / "turns.json")
                         .read_text())
    results["realtime"].pop("again", None)  # the committed file's own, if it was measured again
    before = markdown(results)
    results["realtime"]["again"] = {"load": 0.4, "git_commit": "abc1234"}
    after = markdown(results)
    note = ("Measured again on its own (`--realtime-only`, at abc1234, load 0.4); the tables "
            "above come from the full run.")
    assert note in after and note not in before
    assert after.replace(note + "\n\n", "") == before
    with pytest.raises(SystemExit, match=r"run python -m benchmarks\.turns first"):
        realtime_again(tmp_path, "1", 0.3)


def test_an_8_khz_call_is_replayed_as_the_engine_hears_a_phone_line(tmp_path: Path) -> None:
    """The replay's audio is the server's decode of the µ-law the benchmark sends (the DC
    offset gone, twice the samples) and says it is a phone line; 16 kHz passes untouched."""
    t = np.arange(8000 * 2) / 8000
    tone = (0.1 + 0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)  # DC 0.1
    sf.write(tmp_path / "phone.wav", tone, 8000, subtype="PCM_16")
    heard, phone = eot_train.engine_audio(tmp_path / "phone.wav")
    assert phone
    assert abs(len(heard) - 2 * len(tone)) <= 160
    late = heard[len(heard) // 2:]
    assert abs(float(late.mean())) < 0.01 and 0.25 < float(np.abs(late).max()) < 0.35
    wide = (0.3 * np.sin(2 * np.pi * 440 * np.arange(16000) / 16000)).astype(np.float32)
    sf.write(tmp_path / "wide.wav", wide, 16000, subtype="FLOAT")
    same, phone = eot_train.engine_audio(tmp_path / "wide.wav")
    assert not phone and np.array_equal(same, wide)
