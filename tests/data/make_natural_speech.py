"""Regenerate the natural-prosody clips in ``tests/data/natural/`` (needs ``hibari-tts``).

hibari's ``heart`` voice (Apache-2.0, weights inside the wheel) speaks each sentence as one
utterance; our Whisper finds the word boundary and the sentence is cut there, so the words
before an inside pause keep their mid-sentence intonation. Committed as 16 kHz PCM_16 with
``natural.json`` (texts and where the speech, pauses and gaps are), so the tests need no
synthesiser. Run: ``python3 tests/data/make_natural_speech.py``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from benchmarks import natural  # noqa: E402  (a script: the repo root is put on the path)

RATE = 16000
OUT = Path(__file__).resolve().parent / "natural"
FLOOR = 1e-4  # a -80 dBFS noise floor, so silences are not digital zeros


def floor(seconds: float, rng: np.random.Generator) -> np.ndarray:
    return rng.normal(0.0, FLOOR, round(seconds * RATE)).astype(np.float32)


def utterance(sources: natural.Sources, text: str) -> natural.Utterance:
    audio = natural.level(natural.trimmed(sources.speak(text)))
    result = sources.words_of(audio)
    return natural.Utterance(text, "neural", text, audio, result)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(20261129)
    sources = natural.Sources(Path("/tmp/flux-natural-clips"))
    index: dict[str, dict[str, object]] = {}

    def paused(name: str, text: str, after_word: str, pause_s: float) -> None:
        utt = utterance(sources, text)
        k = next(i for i, w in enumerate(utt.words) if w[0].lower().strip(",.") == after_word)
        speech, pauses = natural.with_pauses(utt, [k], [pause_s], check=sources.last_word)
        assert pauses, f"no verified cut after {after_word!r}"
        lead = floor(0.5, rng)
        audio = np.concatenate([lead, speech + floor(len(speech) / RATE, rng), floor(2.0, rng)])
        a, b = pauses[0]
        sf.write(OUT / f"{name}.wav", audio, RATE, subtype="PCM_16")
        index[name] = {"text": text, "speech_start_s": 0.5,
                       "pause_s": [round(0.5 + a / RATE, 3), round(0.5 + b / RATE, 3)],
                       "speech_end_s": round(0.5 + len(speech) / RATE, 3)}

    paused("table_pause", "I would like to book a table for two people on Friday evening.",
           "for", 0.9)
    paused("maybe_pause", "Well, I was thinking that maybe we could meet again next week.",
           "we", 1.0)

    # Two parties: the neural voice asks, then 300 ms later a flite voice (a committed clip)
    # answers. (A statement before a 300 ms gap is often merged: see benchmarks/results/.)
    first = utterance(sources, "Could you check where my order is, please?").audio
    second, rate = sf.read(ROOT / "tests/data/speech/stream_two.wav", dtype="float32")
    assert rate == RATE
    second = natural.level(natural.trimmed(np.asarray(second, dtype=np.float32)))
    parts = [floor(0.5, rng), first, floor(0.3, rng), second, floor(2.0, rng)]
    audio = np.concatenate(parts)
    sf.write(OUT / "two_party.wav", audio, RATE, subtype="PCM_16")
    first_end = 0.5 + len(first) / RATE
    index["two_party"] = {
        "texts": ["Could you check where my order is, please?",
                  "And this is a different stream."],
        "turns_s": [[0.5, round(first_end, 3)],
                    [round(first_end + 0.3, 3), round(first_end + 0.3 + len(second) / RATE, 3)]],
    }

    # A quiet, short first word on a phone line: "Yes." 45 dB below full scale through the
    # 300-3400 Hz band, over a -60 dBFS noise floor.
    import soxr

    from benchmarks.natural_corpus import telephone

    word = natural.level(natural.trimmed(sources.speak("Yes.")), -45.0)
    dry = np.concatenate([np.zeros(8000, np.float32), word, np.zeros(32000, np.float32)])
    audio = soxr.resample(telephone(dry), 8000, RATE).astype(np.float32)
    audio = (audio + rng.normal(0.0, 1e-3, len(audio))).astype(np.float32)
    sf.write(OUT / "quiet_yes.wav", audio, RATE, subtype="PCM_16")
    index["quiet_yes"] = {"text": "Yes.", "speech_s": [0.5, round(0.5 + len(word) / RATE, 3)],
                          "level_dbfs": -45.0, "band_hz": [300, 3400], "floor_dbfs": -60.0}
    (OUT / "natural.json").write_text(json.dumps(index, indent=1) + "\n")


if __name__ == "__main__":
    main()
