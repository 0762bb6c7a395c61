"""Turn corpora from natural speech: calls with labelled turns and inside pauses, per set.

Sets (each split into ``train`` and ``test``; every reported figure comes from ``test``):

| set | speech | held out by |
|---|---|---|
| ``real`` | the Asterisk voice (a real person) | prompts: the second half, alphabetically |
| ``neural`` | hibari ``heart`` (natural prosody) | scenario: bank/internet/travel turns |
| ``twoparty`` | real and neural voices taking turns, 150-600 ms gaps | both of the above |
| ``twoparty_close`` | the same voices with 0-300 ms gaps (speaker changes in a mono call) | both |
| ``twoparty_overlap`` | the same voices, -300 to 300 ms: half the changes overlap | both |
| ``noisy20``/``noisy10`` | real + neural calls with babble or filtered noise at 20/10 dB SNR | |
| ``tel8k`` | real + neural calls through a 300-3400 Hz band at 8 kHz, sent as µ-law | |
| ``unseen_piper``/``_kokoro``/``_hts`` | Piper joe / Kokoro-82M kumo / festival HTS slt | never |
| | speaking new texts (``benchmarks.unseen``; test split only) | read by any training or |
| | | tuning step |
| ``unseen_twoparty`` | two of those voices taking turns, 0-300 ms gaps | never, as above |
| | (each pair in 4 calls; every unseen turn once) | |

The synthetic flite/espeak corpus (``benchmarks.corpus``) is the third voice family; its calls
0-5 train and 6-11 are held out. Labels are measured from the audio: turn bounds by level,
inserted pauses exactly, and the speakers' own quiet runs >= 200 ms as ``natural`` pauses.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmarks import corpus, natural, unseen
from benchmarks.corpus import Call
from benchmarks.natural import Sources, Utterance
from benchmarks.synth import SAMPLE_RATE, TurnLabel, quiet_runs, write_wav

VERSION = "natural3"
SETS = ("real", "neural", "twoparty", "twoparty_close", "twoparty_overlap", "noisy20", "noisy10",
        "tel8k", *unseen.FAMILIES, unseen.TWO_PARTY)
NEVER_TRAINED = (*unseen.FAMILIES, unseen.TWO_PARTY)  # test splits only
NEURAL_TURNS = 240
NEURAL_SEED = 7
NEURAL_TEST_SCENARIOS = {"bank", "internet", "travel"}
TURNS_PER_CALL = 16
FLOOR_DBFS = -60.0


@dataclass
class PlacedTurn:
    audio: np.ndarray
    pauses: list[tuple[int, int]]
    text: str
    speaker: str


def split_utterances(sources: Sources, split: str) -> tuple[list[Utterance], list[Utterance]]:
    """(real, neural) utterances of one split."""
    real = sources.real()
    half = len(real) // 2
    real_part = real[:half] if split == "train" else real[half:]
    neural = sources.neural(NEURAL_SEED, NEURAL_TURNS)
    scenarios = [s for _, s, _ in natural.neural_texts(NEURAL_SEED, NEURAL_TURNS)]
    neural_part = [u for u, s in zip(neural, scenarios, strict=True)
                   if (s in NEURAL_TEST_SCENARIOS) == (split == "test")]
    return real_part, neural_part


def place(utt: Utterance, rng: random.Random, sources: Sources) -> PlacedTurn:
    """One turn: the utterance, maybe paused inside at a word boundary, at a random level."""
    count = 0
    if len(utt.words) >= 5 and rng.random() < 0.7:
        count = 2 if len(utt.words) >= 10 and rng.random() < 0.3 else 1
    after = natural.pause_places(utt.words, rng, count)
    lengths = [round(rng.uniform(0.3, 1.2), 3) for _ in after]
    audio, pauses = natural.with_pauses(utt, after, lengths, check=sources.last_word)
    gain = 10 ** (rng.uniform(-6.0, 3.0) / 20)
    return PlacedTurn((audio * gain).astype(np.float32), pauses, utt.text, utt.speaker)


def assemble(turns: list[PlacedTurn], gaps: list[float], tail: float,
             seed: int) -> tuple[np.ndarray, list[TurnLabel]]:
    """Lay turns one after another, each ``gap`` after the previous one's end (a negative gap:
    it starts before that end, and the two voices overlap); labels measured from the audio."""
    starts: list[int] = []
    labels: list[TurnLabel] = []
    pos = 0
    for turn, gap in zip(turns, gaps, strict=True):
        start = max(0, pos + round(gap * SAMPLE_RATE))
        starts.append(start)
        pos = start + len(turn.audio)
        inserted = [((start + a) / SAMPLE_RATE, (start + b) / SAMPLE_RATE) for a, b in turn.pauses]
        labels.append(TurnLabel(turn.text, start / SAMPLE_RATE, pos / SAMPLE_RATE, inserted,
                                turn.speaker, "question" if turn.text.endswith("?") else ""))
    end = max((s + len(t.audio) for s, t in zip(starts, turns, strict=True)), default=0)
    audio = np.zeros(end + round(tail * SAMPLE_RATE), dtype=np.float32)
    for start, turn in zip(starts, turns, strict=True):
        audio[start: start + len(turn.audio)] += turn.audio
    for label in labels:
        inserted_set = set(label.pauses)
        runs = quiet_runs(audio, round(label.start * SAMPLE_RATE), round(label.end * SAMPLE_RATE))
        measured = [(a / SAMPLE_RATE, b / SAMPLE_RATE) for a, b in runs]
        for p in inserted_set:
            measured = [m for m in measured if not (m[0] <= p[1] and p[0] <= m[1])] + [p]
        label.pauses = sorted(measured)
        label.pause_kinds = ["inserted" if p in inserted_set else "natural" for p in label.pauses]
    rng = np.random.default_rng(seed)
    noisy = audio + rng.normal(0.0, 10 ** (FLOOR_DBFS / 20), size=audio.shape)
    return np.clip(noisy, -1.0, 1.0).astype(np.float32), labels


def _calls_from(turn_lists: list[list[PlacedTurn]], gap_range: tuple[float, float],
                rng: random.Random, name: str, out_dir: Path) -> list[Call]:
    calls = []
    for i, turns in enumerate(turn_lists):
        gaps = [1.0] + [round(rng.uniform(*gap_range), 3) for _ in turns[1:]]
        audio, labels = assemble(turns, gaps, 2.0, seed=rng.randrange(1 << 30))
        path = out_dir / f"{name}{i:02d}.wav"
        write_wav(path, audio)
        calls.append(Call(f"{name}{i:02d}", path, len(audio) / SAMPLE_RATE,
                          ",".join(sorted({t.speaker for t in turns})), labels))
    return calls


def _chunks(items: list[PlacedTurn], size: int) -> list[list[PlacedTurn]]:
    return [items[i: i + size] for i in range(0, len(items), size) if items[i: i + size]]


def babble_bank(real: Sequence[Utterance]) -> np.ndarray:
    """The babble a split's noisy calls are mixed with: its last 40 real utterances, end to end."""
    return np.concatenate([u.audio for u in real[-40:]])


def noisy(audio: np.ndarray, snr_db: float, noise_bank: np.ndarray,
          rng: np.random.Generator, *, babble: bool | None = None) -> np.ndarray:
    """Babble (other speech, overlapped) or low-passed noise at ``snr_db`` under the speech:
    ``babble`` chooses, else a coin does (the held-out sets)."""
    if (rng.random() < 0.5 if babble is None else babble) and len(noise_bank) > SAMPLE_RATE:
        noise = np.zeros_like(audio)
        for _ in range(4):
            start = int(rng.integers(0, len(noise_bank) - 1))
            piece = np.resize(np.roll(noise_bank, -start), len(audio))
            noise += piece
    else:
        white = rng.normal(0.0, 1.0, size=len(audio) + 64)
        kernel = np.ones(8) / 8  # a crude low-pass: room hum and road noise are low
        noise = np.convolve(white, kernel, mode="same")[: len(audio)]
    loud = audio[np.abs(audio) > 10 ** (-40 / 20)]
    speech_rms = float(np.sqrt(np.mean(loud.astype(np.float64) ** 2))) if loud.size else 0.05
    noise_rms = float(np.sqrt(np.mean(noise**2))) or 1.0
    scaled = noise * (speech_rms / noise_rms) * 10 ** (-snr_db / 20)
    return np.clip(audio + scaled, -1.0, 1.0).astype(np.float32)


def telephone(audio: np.ndarray) -> np.ndarray:
    """8 kHz, 300-3400 Hz: what a phone line leaves of the voice."""
    import soxr

    narrow = soxr.resample(audio, SAMPLE_RATE, 8000)
    spectrum = np.fft.rfft(narrow)
    freqs = np.fft.rfftfreq(len(narrow), 1 / 8000)
    spectrum[(freqs < 300) | (freqs > 3400)] = 0
    return np.asarray(np.fft.irfft(spectrum, n=len(narrow)), dtype=np.float32)


def one_voice_calls(utts: list[Utterance], name: str, sources: Sources, rng: random.Random,
                    out_dir: Path) -> list[Call]:
    """One voice's calls: its turns shuffled, paused inside, 16 to a call, 1.5-3 s apart."""
    rng.shuffle(utts)
    placed = [place(u, rng, sources) for u in utts]
    return _calls_from(_chunks(placed, TURNS_PER_CALL), (1.5, 3.0), rng, name, out_dir)


def unseen_calls(name: str, sources: Sources, rng: random.Random, out_dir: Path,
                 items: list[tuple[str, str]] | None = None) -> list[Call]:
    """An unseen family's calls, laid out as the one-voice sets' are."""
    utts = unseen.utterances(sources, unseen.FAMILIES[name], items)
    return one_voice_calls(utts, name, sources, rng, out_dir)


def unseen_twoparty_calls(sources: Sources, rng: random.Random, out_dir: Path) -> list[Call]:
    """Each pair of unseen voices in 4 calls of 16 alternating turns, 0-300 ms apart; each
    voice's 64 turns split between its two pairs, so every turn is heard once."""
    turns = {f: unseen.utterances(sources, f) for f in unseen.FAMILIES.values()}
    for utts in turns.values():
        rng.shuffle(utts)
    used = dict.fromkeys(turns, 0)
    per_call = TURNS_PER_CALL // 2
    lists = []
    for a, b in unseen.PAIRS:
        for _ in range(4):
            mine = turns[a][used[a]: used[a] + per_call]
            theirs = turns[b][used[b]: used[b] + per_call]
            used[a] += per_call
            used[b] += per_call
            lists.append([place(u, rng, sources) for pair in zip(mine, theirs, strict=True)
                          for u in pair])
    return _calls_from(lists, (0.0, 0.3), rng, unseen.TWO_PARTY, out_dir)


def build(name: str, split: str, cache_dir: Path = corpus.DEFAULT_CACHE,
          seed: int = corpus.DEFAULT_SEED) -> list[Call]:
    """The calls of one set and split, generated once into the cache (labels in a JSON)."""
    tag = f"{name}-{unseen.VERSION}" if name in NEVER_TRAINED else name
    out_dir = cache_dir / f"{VERSION}-{seed}" / f"{tag}-{split}"
    index = out_dir / "labels.json"
    if index.exists():
        data = json.loads(index.read_text())
        return [Call(c["name"], out_dir / f"{c['name']}.wav", c["duration"], c["voice"],
                     [TurnLabel.from_dict(t) for t in c["turns"]]) for c in data]
    if name in NEVER_TRAINED and split != "test":
        raise ValueError(f"{name} has a test split only: nothing trains or tunes on it")
    sources = Sources(cache_dir)
    rng = random.Random(f"{seed}-{name}-{split}")
    if name in unseen.FAMILIES:
        calls = unseen_calls(name, sources, rng, out_dir)
    elif name == unseen.TWO_PARTY:
        calls = unseen_twoparty_calls(sources, rng, out_dir)
    else:
        calls = _natural_calls(name, split, sources, rng, out_dir, cache_dir, seed)
    index.parent.mkdir(parents=True, exist_ok=True)
    index.write_text(json.dumps([c.to_dict() for c in calls]))
    return calls


def _natural_calls(name: str, split: str, sources: Sources, rng: random.Random, out_dir: Path,
                   cache_dir: Path, seed: int) -> list[Call]:
    """The calls of a set made of the real and neural voices (alone, taking turns, or noisy)."""
    real, neural_utts = split_utterances(sources, split)
    if name in ("real", "neural"):
        calls = one_voice_calls(list(real if name == "real" else neural_utts), name, sources,
                                rng, out_dir)
    elif name in ("twoparty", "twoparty_close", "twoparty_overlap"):
        a, b = list(real), list(neural_utts)
        rng.shuffle(a)
        rng.shuffle(b)
        mixed = [u for pair in zip(a, b, strict=False) for u in pair]
        placed = [place(u, rng, sources) for u in mixed]
        gaps = {"twoparty": (0.15, 0.6), "twoparty_close": (0.0, 0.3),
                "twoparty_overlap": (-0.3, 0.3)}[name]
        calls = _calls_from(_chunks(placed, TURNS_PER_CALL), gaps, rng, name, out_dir)
    elif name in ("noisy20", "noisy10", "tel8k"):
        base = build("real", split, cache_dir, seed)[:4] + build("neural", split, cache_dir,
                                                                 seed)[:3]
        calls = []
        bank = babble_bank(real)
        nrng = np.random.default_rng(rng.randrange(1 << 30))
        out_dir.mkdir(parents=True, exist_ok=True)
        for call in base:
            import soundfile as sf

            audio, _ = sf.read(call.path, dtype="float32")
            path = out_dir / f"{name}-{call.name}.wav"
            if name == "tel8k":
                sf.write(path, telephone(audio), 8000, subtype="PCM_16")
            else:
                write_wav(path, noisy(audio, float(name[5:]), bank, nrng))
            calls.append(Call(f"{name}-{call.name}", path, call.duration, call.voice,
                              call.turns))
    else:
        raise ValueError(f"unknown set {name!r}")
    return calls
