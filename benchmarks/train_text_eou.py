"""Train the text end-of-utterance model (``flux_cli/engine/models/text_eou.npz``).

Data: the BYU chit-chat corpus (PyPI ``chitchat-dataset``, MIT: ~258k typed messages of
open-domain conversation between two people). Conversational text is the nearest thing to
what callers say that ships in a package; none of the project's evaluation texts (the
benchmark scenarios, the Asterisk prompts, the test clips) is read here.

Samples: every message is a place a speaker stopped having finished (label 1), and so is
every sentence end inside it (a word ending in ``.``, ``?`` or ``!``); every other word
boundary is a place a speaker could stop mid-sentence (label 0). A message that ends with no
punctuation and is followed by a lower-case message from the same sender is a typed line
broken mid-sentence, so its end is not used as a positive. Punctuation decides the labels only:
the model itself sees words without punctuation or case (``text_eou.words``).

Fit: logistic regression over hashed features (``text_eou.feature_names``), AdaGrad on
mini-batches, the two classes weighted equally, 10% of the conversations held out for the
reported AUC.

    pip install chitchat-dataset
    python -m benchmarks.train_text_eou            # writes the weights, prints held-out AUC
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import random
import re
from pathlib import Path

import numpy as np

from benchmarks.auc import roc_auc
from flux_cli.engine.models.text_eou import (
    WEIGHTS_FILE,
    TextEndOfUtterance,
    feature_names,
    hashed,
    words,
)

BITS = 20
EPOCHS = 3
BATCH = 8192
LEARNING_RATE = 0.1
L2 = 1e-6
NEGATIVES_PER_MESSAGE = 4
HOLDOUT = 0.1
FILLER_SHARE = 0.1
FILLERS = ("um", "uh", "er", "um,", "uh,", "you know,")
SEED = 13
_SENTENCE_END = re.compile(r"[.?!]+[\"')\]]*$")


def dataset_path() -> Path:
    spec = importlib.util.find_spec("chitchat_dataset")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("flux: error: pip install chitchat-dataset (the training text)")
    return Path(next(iter(spec.submodule_search_locations))) / "dataset.json"


def conversations(path: Path) -> list[list[list[str]]]:
    """Per conversation, its runs of one sender's consecutive messages (texts)."""
    data = json.loads(path.read_text())
    out = []
    for key in sorted(data):
        runs = [[m["text"] for m in run if m.get("text", "").strip()]
                for run in data[key]["messages"]]
        out.append([r for r in runs if r])
    return out


def labelled_prefixes(message: str, broken: bool, rng: random.Random,
                      negatives: int = NEGATIVES_PER_MESSAGE) -> list[tuple[str, int]]:
    """(prefix text, finished?) samples of one message."""
    raw = message.split()
    if not raw or not words(message):
        return []
    out_fill: list[tuple[str, int]] = []
    if len(raw) >= 2 and rng.random() < FILLER_SHARE:
        # Typed chat has no hesitations; speech does, and a filler is not an ending.
        k = rng.randrange(1, len(raw))
        out_fill.append((" ".join([*raw[:k], rng.choice(FILLERS)]), 0))
    ends = {k for k in range(1, len(raw)) if _SENTENCE_END.search(raw[k - 1])}
    out = [(" ".join(raw[:k]), 1) for k in sorted(ends)]
    if not broken:
        out.append((message, 1))
    inside = [k for k in range(1, len(raw)) if k not in ends and words(" ".join(raw[:k]))]
    for k in rng.sample(inside, min(negatives, len(inside))):
        out.append((" ".join(raw[:k]), 0))
    return out + out_fill


def samples(convs: list[list[list[str]]], seed: int) -> tuple[list[str], np.ndarray]:
    rng = random.Random(seed)
    texts: list[str] = []
    labels: list[int] = []
    for conv in convs:
        for run in conv:
            for i, message in enumerate(run):
                nxt = run[i + 1] if i + 1 < len(run) else ""
                broken = (not _SENTENCE_END.search(message.strip())
                          and bool(nxt) and nxt.lstrip()[:1].islower())
                for text, label in labelled_prefixes(message, broken, rng):
                    texts.append(text)
                    labels.append(label)
    return texts, np.array(labels, dtype=np.float32)


def featurize(texts: list[str], bits: int) -> np.ndarray:
    return np.stack([hashed(feature_names(words(t)), bits) for t in texts])


def fit(index: np.ndarray, labels: np.ndarray, bits: int, epochs: int = EPOCHS,
        seed: int = SEED) -> np.ndarray:
    """AdaGrad logistic regression on hashed indices, classes weighted equally."""
    size = 1 << bits
    w = np.zeros(size)
    g2 = np.full(size, 1e-8)
    pos_share = float(labels.mean())
    sample_w = np.where(labels > 0.5, 0.5 / pos_share, 0.5 / (1 - pos_share))
    rng = np.random.default_rng(seed)
    n_features = index.shape[1]
    for _ in range(epochs):
        for batch in np.array_split(rng.permutation(len(labels)), max(1, len(labels) // BATCH)):
            idx = index[batch]
            z = w[idx].sum(axis=1)
            p = 1.0 / (1.0 + np.exp(-z))
            err = (p - labels[batch]) * sample_w[batch] / len(batch)
            grad = np.bincount(idx.ravel(), weights=np.repeat(err, n_features), minlength=size)
            touched = grad != 0
            grad[touched] += L2 * w[touched]
            g2 += grad * grad
            w -= LEARNING_RATE * grad / np.sqrt(g2)
    return w.astype(np.float32)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.train_text_eou")
    p.add_argument("--out", type=Path, default=WEIGHTS_FILE)
    p.add_argument("--bits", type=int, default=BITS)
    args = p.parse_args(argv)
    convs = conversations(dataset_path())
    random.Random(SEED).shuffle(convs)
    cut = int(len(convs) * HOLDOUT)
    held, train = convs[:cut], convs[cut:]
    train_texts, train_y = samples(train, SEED)
    held_texts, held_y = samples(held, SEED + 1)
    w = fit(featurize(train_texts, args.bits), train_y, args.bits)
    model = TextEndOfUtterance(w, args.bits)
    held_scores = np.array([model.logit(t) for t in held_texts])
    auc = roc_auc(held_scores, held_y)
    model.save(args.out, trained_on="chitchat-dataset 0.9.0 (MIT), 90% of conversations",
               by="python -m benchmarks.train_text_eou", heldout_auc=f"{auc:.4f}")
    print(json.dumps({"train_samples": len(train_y), "heldout_samples": len(held_y),
                      "heldout_auc": round(auc, 4), "weights": str(args.out)}))


if __name__ == "__main__":
    main()
