"""Regenerate the committed speech clips in ``tests/data/speech/`` (needs flite and sox).

The tests must run on a machine with only Python, so the synthetic speech they need is made
once here and committed: 16 kHz mono PCM_16 WAV files plus ``clips.json`` (text, voice and,
for the composed dialogue, its turns and where the pause inside turn 2 is).

Run from anywhere: ``python3 tests/data/make_speech.py``. Output is deterministic for a given
flite build, so rerunning only changes files if flite itself changed.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

RATE = 16000
OUT = Path(__file__).resolve().parent / "speech"

# name -> (voice, text). Raw flite output, untrimmed: the tests trim where they need to.
CLIPS: dict[str, tuple[str, str]] = {
    "testing_vad": ("slt", "Testing the voice detector."),
    "book_slt": ("slt", "I would like to book a table for two people at seven o'clock tonight."),
    "stream_one": ("slt", "Hello there, this is stream one."),
    "stream_two": ("rms", "And this is a different stream."),
    "book_first_half": ("rms", "I would like to book a table for"),
    "book_second_half": ("rms", "two people at seven"),
    "maybe": ("slt", "Maybe."),
    "okay": ("slt", "Okay."),
    "thanks": ("slt", "Thanks."),
    "sure": ("slt", "Sure."),
    "no": ("slt", "No."),
    "order_calling": ("rms", "Hello, I am calling about my order from last week."),
    "order_not_arrived": ("rms", "It has not arrived yet and the tracking page shows nothing."),
    "order_check": ("rms", "Could you please check what happened to it?"),
    "order_paid": ("rms", "I paid with my credit card on Tuesday morning."),
    "order_refund": ("rms", "If it is lost, I would like a refund or a replacement."),
    "order_thanks": ("rms", "Thanks for your help, I really appreciate it."),
    "kubernetes": ("rms", "Please send it to Kubernetes Street."),
    "fox_rms": ("rms", "The quick brown fox jumps over the lazy dog."),
    "phone_number": ("slt", "My phone number is seven three nine."),
    "thank_you_awb": ("awb", "Thank you so much, that is all I needed."),
    "book_table_for_two": ("slt", "I would like to book a table for two."),
    "long_before": ("rms", "Something said long before."),
    "address": ("rms", "My address is twelve Oak Avenue in Springfield."),
    "what_time": ("rms", "Can you tell me what time it is?"),
    "thank_you_so_much": ("slt", "Thank you so much."),
    "thinking_maybe": ("rms", "So I was thinking that maybe we"),
    "fox_slt": ("slt", "The quick brown fox jumps over the lazy dog."),
    "check_my_order": ("rms", "Could you please check what happened to my order?"),
}

# The end-to-end dialogue: agent (slt) and caller (rms); turn 2 pauses 0.8 s inside.
LEAD_S = 0.6
DIALOGUE: list[dict[str, object]] = [
    {
        "voice": "slt",
        "segments": ["Hi there, I would like to book a table for two people tonight."],
        "pause_s": 0.0,
        "gap_after_s": 2.5,
        "expected": "i would like to book a table for two people tonight",
    },
    {
        "voice": "rms",
        "segments": ["We will need a high chair, and", "maybe a table near the window."],
        "pause_s": 0.8,
        "gap_after_s": 2.5,
        "expected": "we will need a high chair and maybe a table near the window",
    },
    {
        "voice": "slt",
        "segments": ["Yes please."],
        "pause_s": 0.0,
        "gap_after_s": 2.0,
        "expected": "yes please",
    },
]


def flite(text: str, voice: str, work: Path) -> np.ndarray:
    """flite → sox (16 kHz mono 16-bit) → float32, exactly as the tests used to at run time."""
    raw, wav = work / "raw.wav", work / "seg.wav"
    subprocess.run(["flite", "-voice", voice, "-t", text, "-o", str(raw)], check=True)
    subprocess.run(["sox", str(raw), "-r", str(RATE), "-c", "1", "-b", "16", str(wav)], check=True)
    audio, rate = sf.read(wav, dtype="float32")
    assert rate == RATE and audio.ndim == 1
    return np.asarray(audio, dtype=np.float32)


def trim(audio: np.ndarray, threshold: float) -> np.ndarray:
    loud = np.flatnonzero(np.abs(audio) > threshold)
    return audio[loud[0] : loud[-1] + 1]


def silence(seconds: float) -> np.ndarray:
    return np.zeros(round(seconds * RATE), dtype=np.float32)


def write(name: str, audio: np.ndarray) -> str:
    path = OUT / f"{name}.wav"
    sf.write(path, audio, RATE, subtype="PCM_16")
    return path.name


def make_dialogue(work: Path) -> dict[str, object]:
    """Turns separated by silence; each segment trimmed at |x| > 0.01 before placing it."""
    parts = [silence(LEAD_S)]
    pause = (0.0, 0.0)
    turns: list[dict[str, object]] = []
    for turn in DIALOGUE:
        start = sum(p.size for p in parts) / RATE
        segments = turn["segments"]
        assert isinstance(segments, list)
        for i, text in enumerate(segments):
            if i:
                at = sum(p.size for p in parts) / RATE
                pause_s = float(str(turn["pause_s"]))
                parts.append(silence(pause_s))
                pause = (at, at + pause_s)
            parts.append(trim(flite(text, str(turn["voice"]), work), 0.01))
        end = sum(p.size for p in parts) / RATE
        parts.append(silence(float(str(turn["gap_after_s"]))))
        turns.append({**turn, "speech_s": [start, end]})
    audio = np.concatenate(parts)
    return {
        "file": write("dialogue", audio),
        "samples": int(audio.size),
        "lead_s": LEAD_S,
        "turns": turns,
        "inside_pause_s": list(pause),
    }


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.glob("*.wav"):
        old.unlink()
    info: dict[str, object] = {"rate": RATE, "clips": {}}
    clips: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for name, (voice, text) in CLIPS.items():
            audio = flite(text, voice, work)
            clips[name] = {"file": write(name, audio), "voice": voice, "text": text,
                           "samples": int(audio.size)}
        info["clips"] = clips
        info["dialogue"] = make_dialogue(work)
    (OUT / "clips.json").write_text(json.dumps(info, indent=2) + "\n")
    total = sum(p.stat().st_size for p in OUT.iterdir())
    print(f"{len(clips) + 1} clips, {total / 1e6:.2f} MB in {OUT}")


if __name__ == "__main__":
    main()
