"""``python -m benchmarks.speaker_background``: the mean voice that a voice comparison subtracts.

GE2E embeddings of short speech share a large common direction: on 0.48 s of new speech the
same-voice pauses of a two-party call score a median cosine of 0.64 and its speaker changes
0.55, so one threshold can hardly tell them apart. Subtracting the mean embedding of
many voices' pieces of the same length (the "background") before the cosine leaves what is
particular to each voice. The means are taken from the synthetic family's train split only
(flite and espeak-ng voices, ``corpus.build("full")[:6]``), so the two natural voices the
speaker-change benchmark scores (``twoparty_close``) and the unseen families stay unread.

Writes ``flux_cli/engine/models/speaker_background.npz``: ``short`` (pieces of the check's
length, ``VoiceChangeConfig.check_s``) and ``long`` (of the reference's, ``reference_s``).
"""

from __future__ import annotations

import argparse
import json
import os

import numpy as np

from benchmarks import corpus
from benchmarks.voice_change import read_16k
from flux_cli.engine.models.speaker import BACKGROUND_FILE
from flux_cli.engine.voice_change import VoiceChangeConfig

PIECES_PER_TURN = 2
TRAIN_CALLS = 6  # the synthetic train split (eot_train.set_calls("synthetic", "train"))


def background(seed: int = 0) -> tuple[np.ndarray, np.ndarray, int]:
    """(mean short-piece embedding, mean long-piece embedding, pieces of each)."""
    from flux_cli.engine.models.speaker import SpeakerEncoder

    encoder = SpeakerEncoder(background=None)
    config = VoiceChangeConfig()
    rng = np.random.default_rng(seed)
    short: list[np.ndarray] = []
    long_: list[np.ndarray] = []
    for call in corpus.build("full")[:TRAIN_CALLS]:
        audio = read_16k(call.path)
        for turn in call.turns:
            if turn.end - turn.start < config.reference_s + 0.1:
                continue
            for _ in range(PIECES_PER_TURN):
                for length, into in ((config.reference_s, long_), (config.check_s, short)):
                    start = rng.uniform(turn.start, turn.end - length)
                    piece = audio[round(start * 16000): round((start + length) * 16000)]
                    into.append(encoder.embed(piece))
    return np.mean(short, axis=0), np.mean(long_, axis=0), len(short)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.speaker_background")
    p.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    short, long_, pieces = background()
    config = VoiceChangeConfig()
    info = {"by": "python -m benchmarks.speaker_background",
            "from": f"synthetic train split ({TRAIN_CALLS} calls, flite and espeak-ng voices)",
            "pieces": pieces, "short_s": config.check_s, "long_s": config.reference_s}
    np.savez(BACKGROUND_FILE, short=short.astype(np.float32), long=long_.astype(np.float32),
             info=np.array(json.dumps(info)))
    print(json.dumps(info))


if __name__ == "__main__":
    main()
