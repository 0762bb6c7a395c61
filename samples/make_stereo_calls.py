"""Make the bundled two-channel calls for ``flux eval``: ``python samples/make_stereo_calls.py``.

Both are made only from speech the project already ships, so they need no synthesiser:
- ``calls/dental.ogg``: ``samples/dialogue.wav`` split by ``labels.json``'s speakers, the
  caller on channel 0 and the agent on channel 1, timing unchanged (two holds inside the
  caller's turns, two shifts).
- ``calls/order.ogg``: caller clips from ``tests/data/speech`` strung into turns with
  pauses inside them (holds), the agent's short replies on channel 1 (shifts), one
  "Okay." the caller talks straight on after (a backchannel), and an overlap.
A quiet noise floor (-80 dBFS) is added to both channels, as a phone line has, and the
calls are stored as Ogg Opus (a few kB a second, as call recordings often are).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import soundfile as sf

HERE = Path(__file__).resolve().parent
SPEECH = HERE.parent / "tests" / "data" / "speech"
RATE = 16000
CALLER, AGENT = 0, 1
EDGE_S = 0.25  # audio kept around each labelled turn when splitting the dialogue

# (channel, clip, silence before its speech starts, after the previous clip's speech ended)
ORDER = [
    (AGENT, "stream_one", 0.0),
    (CALLER, "order_calling", 1.1),
    (CALLER, "order_not_arrived", 0.6),  # hold
    (CALLER, "order_check", 0.9),  # hold
    (AGENT, "sure", 0.7),  # shift
    (CALLER, "order_paid", 1.3),
    (CALLER, "address", 0.5),  # hold
    (AGENT, "okay", 0.4),  # a backchannel ...
    (CALLER, "order_refund", 0.3),  # ... the caller goes on: a hold
    (AGENT, "no", 1.0),  # shift
    (CALLER, "kubernetes", 1.2),
    (CALLER, "order_thanks", 1.0),  # hold
    (AGENT, "thanks", -0.2),  # shift, the agent starts 0.2 s early (an overlap)
]


def _load(name: str) -> np.ndarray:
    audio, rate = sf.read(SPEECH / f"{name}.wav", dtype="float32")
    assert rate == RATE and audio.ndim == 1
    return np.asarray(audio)


def _extent(audio: np.ndarray) -> tuple[int, int]:
    """First and last sample of 10 ms frames above -40 dBFS (the labels' rule)."""
    hop = RATE // 100
    frames = audio[: len(audio) // hop * hop].reshape(-1, hop).astype(np.float64)
    loud = np.flatnonzero(10 * np.log10(np.maximum((frames**2).mean(axis=1), 1e-12)) > -40)
    return int(loud[0] * hop), int((loud[-1] + 1) * hop)


def _noise(call: np.ndarray, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return call + rng.normal(0, 10 ** (-80 / 20), call.shape).astype(np.float32)


def dental() -> np.ndarray:
    mono, rate = sf.read(HERE / "dialogue.wav", dtype="float32")
    assert rate == RATE
    turns = json.loads((HERE / "labels.json").read_text())["dialogue.wav"]["turns"]
    call = np.zeros((len(mono), 2), dtype=np.float32)
    for turn in turns:
        a = max(0, round((turn["start"] - EDGE_S) * RATE))
        b = min(len(mono), round((turn["end"] + EDGE_S) * RATE))
        call[a:b, CALLER if turn["speaker"] == "caller" else AGENT] = mono[a:b]
    return _noise(call, 1)


def order() -> np.ndarray:
    pieces = []
    cursor = 0.5 * RATE
    for i, (channel, name, gap) in enumerate(ORDER):
        audio = _load(name)
        first, last = _extent(audio)
        start = cursor + round(gap * RATE) if i else cursor
        offset = int(start - first)
        pieces.append((channel, offset, audio))
        cursor = offset + last
    length = max(offset + len(audio) for _c, offset, audio in pieces) + int(2.5 * RATE)
    call = np.zeros((length, 2), dtype=np.float32)
    for channel, offset, audio in pieces:
        call[offset: offset + len(audio), channel] += audio
    return _noise(call, 2)


def main() -> None:
    (HERE / "calls").mkdir(exist_ok=True)
    for name, call in (("dental", dental()), ("order", order())):
        sf.write(HERE / "calls" / f"{name}.ogg", call, RATE, format="OGG", subtype="OPUS")


if __name__ == "__main__":
    main()
