"""Convert resemblyzer's GE2E speaker encoder to numpy (``models/speaker_ge2e.npz``).

Run once, where torch is installed (the engine itself never needs torch):

    pip install torch resemblyzer==0.1.4
    python -m benchmarks.convert_speaker_encoder           # writes the weights
    python -m benchmarks.convert_speaker_encoder --check   # ... and compares with resemblyzer

The weights are ``resemblyzer/pretrained.pt`` (Apache-2.0, Resemble AI); only the LSTM and the
projection are kept (the checkpoint's optimizer state and GE2E similarity scale are training
leftovers). The two LSTM biases are summed, and matrices stored transposed for ``x @ W``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
from pathlib import Path
from typing import Any

import numpy as np

from flux_cli.engine.models.speaker import LAYERS, WEIGHTS_FILE, SpeakerEncoder, cosine


def checkpoint_path() -> Path:
    spec = importlib.util.find_spec("resemblyzer")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("flux: error: pip install resemblyzer==0.1.4 (it carries the weights)")
    return Path(next(iter(spec.submodule_search_locations))) / "pretrained.pt"


def convert(source: Path, out: Path) -> None:
    import torch

    state = torch.load(source, map_location="cpu", weights_only=False)["model_state"]
    arrays: dict[str, Any] = {}
    for k in range(LAYERS):
        arrays[f"w_in{k}"] = state[f"lstm.weight_ih_l{k}"].numpy().T.copy()
        arrays[f"w_rec{k}"] = state[f"lstm.weight_hh_l{k}"].numpy().T.copy()
        arrays[f"bias{k}"] = (state[f"lstm.bias_ih_l{k}"] + state[f"lstm.bias_hh_l{k}"]).numpy()
    arrays["proj"] = state["linear.weight"].numpy().T.copy()
    arrays["proj_bias"] = state["linear.bias"].numpy()
    np.savez_compressed(out, **arrays)


def check(out: Path, clips: list[Path]) -> list[dict[str, Any]]:
    """Cosine between resemblyzer's embedding and ours, on the same (volume-raised) audio."""
    import soundfile as sf
    import soxr
    from resemblyzer import VoiceEncoder
    from resemblyzer.audio import normalize_volume

    theirs = VoiceEncoder("cpu", verbose=False)
    ours = SpeakerEncoder(out, pad_short=True)
    rows = []
    for clip in clips:
        audio, rate = sf.read(clip, dtype="float32")
        if audio.ndim > 1:
            audio = audio.mean(axis=1)
        if rate != 16000:
            audio = soxr.resample(audio, rate, 16000)
        wav = normalize_volume(np.asarray(audio, dtype=np.float32), -30, increase_only=True)
        reference = theirs.embed_utterance(wav.astype(np.float32))
        rows.append({"clip": clip.name, "seconds": round(len(audio) / 16000, 2),
                     "cosine": round(cosine(reference, ours.embed(audio)), 5)})
    return rows


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.convert_speaker_encoder")
    p.add_argument("--out", type=Path, default=WEIGHTS_FILE)
    p.add_argument("--check", nargs="*", type=Path, metavar="WAV",
                   help="compare with resemblyzer on these clips (default: the samples)")
    args = p.parse_args(argv)
    convert(checkpoint_path(), args.out)
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes)")
    if args.check is not None:
        root = Path(__file__).resolve().parent.parent
        clips = args.check or sorted((root / "samples").glob("*.wav"))
        print(json.dumps(check(args.out, clips), indent=1))


if __name__ == "__main__":
    main()
