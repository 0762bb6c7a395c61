"""Regenerate the bundled clips: ``python samples/make_samples.py`` from the repository root.

The clips are committed so that running the project needs no speech synthesiser; this script
records how they were made (flite voices, exact numpy silences, ffmpeg for Opus) and writes
``labels.json`` with positions measured from the audio itself.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # run as a plain script: the repo root must come first

from benchmarks.synth import (  # noqa: E402
    SAMPLE_RATE,
    TurnSpec,
    Voice,
    render_call,
    write_wav,
)

AGENT = Voice("flite", "slt", 1.0)
CALLER = Voice("flite", "rms", 1.0)

# (speaker, segments, pauses inside the turn, gap before the turn)
DIALOGUE: list[tuple[str, list[str], list[float], float]] = [
    ("agent", ["Thank you for calling the dental office. How can I help you today?"], [], 0.5),
    ("caller", ["Good morning. I would like to book a cleaning for next week. Is there anything on",
                "Tuesday morning?"], [0.8], 1.8),
    ("agent", ["Sure. I have an opening at nine thirty on Tuesday. Does that work for you?"],
     [], 2.2),
    ("caller", ["Yes, that works. My name is", "Sarah Miller."], [0.7], 1.6),
    ("agent", ["Great. You are all set for Tuesday at nine thirty."], [], 2.0),
]
SENTENCE = "I would like to check the status of my order, please."


def make_dialogue() -> dict[str, object]:
    specs = [
        TurnSpec(segments, pauses, gap, AGENT if who == "agent" else CALLER)
        for who, segments, pauses, gap in DIALOGUE
    ]
    audio, labels = render_call(specs, tail=2.0, noise_dbfs=None, seed=0)
    write_wav(HERE / "dialogue.wav", audio)
    subprocess.run(
        ["ffmpeg", "-y", "-loglevel", "error", "-i", str(HERE / "dialogue.wav"),
         "-c:a", "libopus", "-b:a", "24k", "-map_metadata", "-1", "-fflags", "+bitexact",
         str(HERE / "dialogue.opus")],
        check=True,
    )
    turns = []
    for (who, *_), label in zip(DIALOGUE, labels, strict=True):
        entry = label.to_dict()
        entry["speaker"] = who
        turns.append(entry)
    return {"duration": round(len(audio) / SAMPLE_RATE, 3), "turns": turns}


def make_sentence() -> dict[str, object]:
    audio, labels = render_call([TurnSpec([SENTENCE], [], 0.4, AGENT)], tail=1.5,
                                noise_dbfs=None, seed=0)
    write_wav(HERE / "sentence.wav", audio)
    return {"duration": round(len(audio) / SAMPLE_RATE, 3), "turns": [labels[0].to_dict()]}


def main() -> None:
    labels = {
        "sample_rate": SAMPLE_RATE,
        "note": "seconds; start/end/pauses measured from the audio (10 ms frames above -40 dBFS)",
        "dialogue.wav": make_dialogue(),
        "sentence.wav": make_sentence(),
    }
    labels["dialogue.opus"] = {"same_as": "dialogue.wav"}
    (HERE / "labels.json").write_text(json.dumps(labels, indent=2) + "\n")


if __name__ == "__main__":
    main()
