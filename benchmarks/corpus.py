"""The benchmark corpus: the caller's side of synthetic voice-agent calls, made on the fly.

Each call is one speaker (a flite or espeak-ng voice at some rate) answering an agent we do
not hear: turns of one to three sentences, gaps of 1.5-4 s between turns, and pauses of
0.3-1.5 s *inside* turns at the places people really stop (after "um", "so", "and", a comma,
mid-list, before a number). Everything is drawn from one seeded generator, so the same seed
gives the same audio and labels; the audio is cached, the labels are measured from it.

The smoke call (the one the test suite runs) is committed under ``benchmarks/smoke/`` so tests
need no flite or espeak-ng; ``python -m benchmarks.corpus smoke --write-committed`` remakes it.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from benchmarks.synth import (
    FALLBACKS,
    SAMPLE_RATE,
    TurnLabel,
    TurnSpec,
    Voice,
    render_call,
    write_wav,
)

DEFAULT_SEED = 20261124
DEFAULT_CACHE = Path.home() / ".cache" / "flux-bench"
# Bumped when the synthesis changes, so a cache of older audio is never reused.
SYNTH_VERSION = "turns1"
LABELS_FILE = Path(__file__).with_name("corpus_labels.json")
# Corpora committed with their audio, so running them needs no synthesiser.
COMMITTED = {"smoke": Path(__file__).with_name("smoke")}

VOICES = [
    ("flite", "slt"), ("flite", "rms"), ("flite", "awb"), ("flite", "kal16"),
    ("espeak", "en-us"), ("espeak", "en-gb"), ("espeak", "en-us+f3"), ("espeak", "en-gb+m3"),
]

NAMES = ["Sarah Miller", "David Chen", "Maria Lopez", "James Wilson", "Emily Brown",
         "Tom Parker", "Laura Green", "Kevin Moore"]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
TIMES = ["seven thirty", "six fifteen", "eight", "noon", "ten thirty", "two forty five"]
COUNTS = ["two", "three", "four", "five", "six"]
DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
CITIES = ["Boston", "Denver", "Chicago", "Seattle", "Dallas", "Atlanta"]
ITEMS = ["a blue jacket", "two coffee mugs", "a phone charger", "a pair of shoes",
         "a desk lamp", "a backpack"]

# "|" marks a natural place to stop inside a turn; "?" at the end makes it a question.
SCENARIOS: dict[str, list[str]] = {
    "restaurant": [
        "Hi, I would like to book a table for | um, | {count} people on {day}.",
        "Could we get something around | {time}?",
        "It is for a birthday, so | we would like a quiet table if possible.",
        "Do you have any vegetarian options on the menu?",
        "The name is | {name}.",
        "Actually, | can we make that {count} people instead?",
        "We will need a high chair, | and | maybe a table near the window.",
        "Is there parking close to the restaurant?",
        "My phone number is | {digits4} | {digits4}.",
    ],
    "clinic": [
        "I need to see a doctor about | my back, it has been hurting all week.",
        "The earliest I can do is | {day} afternoon.",
        "My date of birth is | March {ordinal}, nineteen eighty {unit}.",
        "I have been taking | um, | ibuprofen twice a day.",
        "Do I need to bring anything with me?",
        "My insurance is with Blue Shield, and | the member number is | {digits6}.",
        "Can I also get | a flu shot while I am there?",
        "So | I should arrive fifteen minutes early?",
    ],
    "delivery": [
        "I am calling about an order that | never arrived.",
        "The order number is | {digits6}.",
        "I ordered {item}, | {item}, | and {item}.",
        "It was supposed to come on {day}, but | the tracking has not changed.",
        "Can you send it again, or | should I ask for a refund?",
        "The address is | {digits3} Oak Street, in {city}.",
        "Um, | I would prefer the refund, to be honest.",
        "How long will the refund take?",
    ],
    "bank": [
        "I think my card was stolen, | and I need to block it right away.",
        "The last four digits are | {digits4}.",
        "There is a charge from {city} that | I did not make.",
        "So | will I get a new card in the mail?",
        "My name is | {name}, and I have had this account for years.",
        "I also want to check my balance, | and | the last three payments.",
        "Can you tell me the amount of that charge?",
        "Um, | I would like the new card sent to my work address.",
    ],
    "internet": [
        "My internet has been down since | {day} morning.",
        "I already restarted the router, | twice.",
        "The lights on the box are | green, green, | and then one is orange.",
        "My account number is | {digits6}.",
        "So | do you need to send a technician?",
        "I work from home, so | I really need this fixed today.",
        "Is there an outage in {city} right now?",
        "I pay for the fast plan, and | I am getting maybe a tenth of that.",
    ],
    "travel": [
        "I need to change my flight to {city} | to a later date.",
        "The confirmation code is | {digits6}.",
        "I was hoping to fly out on {day}, | in the evening if possible.",
        "How much would it cost to change it?",
        "Um, | can I also add a checked bag?",
        "It is for me, | my wife, | and our two kids.",
        "Is there a direct flight, or | does it stop somewhere?",
        "We would like seats together, | near the front if you have them.",
    ],
}

# Lines any caller might say, whatever the call is about.
GENERIC = [
    "Sorry, | could you repeat that?",
    "Let me check, | um, | I think it is in my email somewhere.",
    "Okay, so | what happens next?",
    "I called last week as well, and | nobody called me back.",
    "My email is | {first} at example dot com.",
    "Give me one second, | I am driving right now.",
    "That is fine, | as long as it is done by {day}.",
    "I can do {day} or {day}, | but not in the morning.",
    "Honestly, | I just want this sorted out today.",
    "Can you text me a confirmation?",
    "And | how much will that be in total?",
    "The best number to reach me is | {digits3} | {digits4}.",
]

FOLLOW_UPS = [
    "Thank you.", "Does that make sense?", "Is that possible?", "That would be great.",
    "I hope that is not a problem.", "Can you check that for me?", "Thanks for your help.",
]
SHORT_TURNS = ["Yes.", "No thanks.", "Okay.", "That is right.", "Sure.", "No.",
               "Yes please.", "Perfect, thank you.", "Not really.", "Yes, that is correct."]
OPENINGS = ["Hello?", "Hi there."]
CLOSINGS = ["No, that is everything. Thank you so much.", "That is all, thanks. Goodbye."]

ORDINALS = ["first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth",
            "ninth", "tenth", "twelfth", "fifteenth", "twentieth"]


@dataclass
class Call:
    """One generated call file and its measured labels."""

    name: str
    path: Path
    duration: float
    voice: str
    turns: list[TurnLabel]

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "duration": round(self.duration, 3), "voice": self.voice,
                "turns": [t.to_dict() for t in self.turns]}


def _fill(template: str, rng: random.Random) -> str:
    def digits(n: int) -> str:
        return " ".join(rng.choice(DIGITS[1:] if i == 0 else DIGITS) for i in range(n))

    slots = {
        "name": lambda: rng.choice(NAMES), "day": lambda: rng.choice(DAYS),
        "first": lambda: rng.choice(NAMES).split()[0],
        "time": lambda: rng.choice(TIMES), "count": lambda: rng.choice(COUNTS),
        "city": lambda: rng.choice(CITIES), "item": lambda: rng.choice(ITEMS),
        "digits3": lambda: digits(3), "digits4": lambda: digits(4), "digits6": lambda: digits(6),
        "ordinal": lambda: rng.choice(ORDINALS), "unit": lambda: rng.choice(DIGITS[1:]),
    }
    seen: set[str] = set()

    def draw(slot: str) -> str:
        for _ in range(20):  # no "a blue jacket, a blue jacket" within one line
            value = slots[slot]()
            if value not in seen:
                break
        seen.add(value)
        return value

    return re.sub(r"\{(\w+)\}", lambda m: draw(m.group(1)), template)


def _turn_text(rng: random.Random, scenario: str, used: set[int]) -> tuple[str, str]:
    """A turn's template text (with "|" marks) and its kind."""
    if rng.random() < 0.18:
        text = rng.choice(SHORT_TURNS)
        return text, "short"
    pool = SCENARIOS[scenario] + GENERIC

    def line() -> str:
        choices = [i for i in range(len(pool)) if i not in used] or list(range(len(pool)))
        idx = rng.choice(choices)
        used.add(idx)
        return _fill(pool[idx], rng)

    text = line()
    if rng.random() < 0.3:
        text += " " + rng.choice(FOLLOW_UPS)
    if rng.random() < 0.15:  # a third sentence from another line of the same call
        text += " " + line()
    return text, "question" if text.rstrip().endswith("?") else "statement"


def _split(text: str, rng: random.Random) -> tuple[list[str], list[float]]:
    """Cut a template at its "|" marks; most marks become a pause of 0.3-1.5 s."""
    parts = [p.strip() for p in text.split("|")]
    segments = [parts[0]]
    pauses: list[float] = []
    for part in parts[1:]:
        if rng.random() < 0.85:
            pauses.append(round(rng.uniform(0.3, 1.5), 2))
            segments.append(part)
        else:
            segments[-1] = f"{segments[-1]} {part}"
    return segments, pauses


def call_specs(seed: int, index: int, n_turns: int) -> tuple[Voice, list[TurnSpec], list[str]]:
    """The turns of call ``index``: deterministic in (seed, index)."""
    rng = random.Random(seed * 1000 + index)
    engine, name = VOICES[index % len(VOICES)]
    voice = Voice(engine, name, round(rng.uniform(0.9, 1.15), 2))
    scenario = sorted(SCENARIOS)[rng.randrange(len(SCENARIOS))]
    used: set[int] = set()
    texts: list[tuple[str, str]] = [(rng.choice(OPENINGS), "short")]
    while len(texts) < n_turns - 1:
        texts.append(_turn_text(rng, scenario, used))
    texts.append((rng.choice(CLOSINGS), "statement"))
    specs = []
    for i, (text, _kind) in enumerate(texts[:n_turns]):
        segments, pauses = _split(text, rng)
        gap = 0.5 if i == 0 else round(rng.uniform(1.5, 4.0), 2)
        specs.append(TurnSpec(segments, pauses, gap, voice))
    return voice, specs, [k for _t, k in texts[:n_turns]]


def make_call(seed: int, index: int, n_turns: int, out_dir: Path) -> Call:
    """Synthesize one call into ``out_dir`` (or reuse the cached file) and label it."""
    name = f"call{index:02d}"
    path = out_dir / f"{name}.wav"
    label_path = out_dir / f"{name}.json"
    if path.exists() and label_path.exists():
        data = json.loads(label_path.read_text())
        return Call(name, path, float(data["duration"]), str(data["voice"]),
                    [TurnLabel.from_dict(t) for t in data["turns"]])
    voice, specs, kinds = call_specs(seed, index, n_turns)
    audio, labels = render_call(specs, tail=3.0, noise_dbfs=-60.0, seed=seed + index)
    for label, kind in zip(labels, kinds, strict=True):
        label.kind = kind
    write_wav(path, audio)
    call = Call(name, path, len(audio) / SAMPLE_RATE, voice.label, labels)
    label_path.write_text(json.dumps(call.to_dict(), indent=1))
    return call


@dataclass(frozen=True)
class CorpusSize:
    """How many calls, and turns per call."""

    calls: int
    turns_per_call: int


SIZES = {
    "full": CorpusSize(calls=12, turns_per_call=24),  # >= 30 min, >= 200 turns
    "quick": CorpusSize(calls=2, turns_per_call=16),
    "smoke": CorpusSize(calls=1, turns_per_call=4),
}


def build(size: str, cache_dir: Path = DEFAULT_CACHE, seed: int = DEFAULT_SEED,
          use_committed: bool = True) -> list[Call]:
    """The corpus of the given size: the committed copy if there is one for this seed,
    else generated (or loaded from the cache)."""
    spec = SIZES[size]
    out = cache_dir / cache_name(seed, size)
    out.mkdir(parents=True, exist_ok=True)  # the runner writes clips and long files here
    if use_committed and (calls := load_committed(size, seed)) is not None:
        return calls
    return [make_call(seed, i, spec.turns_per_call, out) for i in range(spec.calls)]


def cache_name(seed: int, size: str) -> str:
    """The cache folder of a generated corpus (and of the runner's clips made from it)."""
    return f"seed{seed}-{size}-{SYNTH_VERSION}"


def load_committed(size: str, seed: int = DEFAULT_SEED) -> list[Call] | None:
    """The committed calls of ``size`` (audio paths inside the repo), or None if not made
    with this seed."""
    folder = COMMITTED.get(size)
    if folder is None or not (folder / "labels.json").exists():
        return None
    data = json.loads((folder / "labels.json").read_text())
    if data["seed"] != seed:
        return None
    return [Call(str(c["name"]), folder / f"{c['name']}.wav", float(c["duration"]),
                 str(c["voice"]), [TurnLabel.from_dict(t) for t in c["turns"]])
            for c in data["calls"]]


def write_committed(size: str, seed: int = DEFAULT_SEED) -> list[Call]:
    """Synthesize ``size`` afresh (needs flite and espeak-ng) and commit its audio and labels."""
    folder = COMMITTED[size]
    with tempfile.TemporaryDirectory() as tmp:
        made = build(size, Path(tmp), seed, use_committed=False)
        folder.mkdir(parents=True, exist_ok=True)
        for call in made:
            shutil.copyfile(call.path, folder / call.path.name)
    calls = [Call(c.name, folder / c.path.name, c.duration, c.voice, c.turns) for c in made]
    write_labels(calls, folder / "labels.json", seed)
    return calls


def summary(calls: list[Call]) -> dict[str, float]:
    """Totals the issue sets floors for (minutes of audio, turns, inside pauses).

    ``inserted_pauses`` are the silences we placed; ``natural_pauses`` the synthesiser's own
    (>= 200 ms at commas and between sentences), found by energy and scored the same way.
    """
    turns = [t for c in calls for t in c.turns]
    kinds = [k for t in turns for k in t.pause_kinds]
    return {"calls": len(calls), "minutes": sum(c.duration for c in calls) / 60,
            "turns": len(turns), "pauses": len(kinds),
            "inserted_pauses": kinds.count("inserted"), "natural_pauses": kinds.count("natural")}


def clip(call: Call, seconds: float, out_dir: Path) -> Call:
    """The first ``seconds`` of a call, cut in the gap after the last whole turn (for real time)."""
    turns = [t for t in call.turns if t.end + 1.5 <= seconds] or call.turns[:1]
    end = min(call.duration, turns[-1].end + 1.5)
    path = out_dir / f"{call.name}-{round(seconds)}s.wav"
    if not path.exists():
        audio, _ = sf.read(call.path, dtype="float32")
        write_wav(path, np.asarray(audio[: round(end * SAMPLE_RATE)]))
    return Call(path.stem, path, end, call.voice, turns)


def long_file(calls: list[Call], seconds: float, out_dir: Path) -> Path:
    """A file of ``seconds`` made by repeating the calls (for the client's memory and CPU)."""
    path = out_dir / f"long-{round(seconds)}s.wav"
    if path.exists():
        return path
    target = round(seconds * SAMPLE_RATE)
    with sf.SoundFile(path, "w", SAMPLE_RATE, 1, subtype="PCM_16") as out:
        written = 0
        while written < target:
            for call in calls:
                audio, _ = sf.read(call.path, dtype="float32")
                chunk = audio[: target - written]
                out.write(chunk)
                written += len(chunk)
                if written >= target:
                    break
    return path


def write_labels(calls: list[Call], path: Path = LABELS_FILE, seed: int = DEFAULT_SEED) -> None:
    """Commit-able labels: of the full corpus (its audio is regenerated from the seed), or
    of a committed corpus next to its audio."""
    data = {"seed": seed, "sample_rate": SAMPLE_RATE, **summary(calls),
            "calls": [c.to_dict() for c in calls]}
    path.write_text(json.dumps(data, indent=1) + "\n")


def main(argv: list[str] | None = None) -> None:
    """``python -m benchmarks.corpus [full|quick|smoke]``: generate and print the totals."""
    p = argparse.ArgumentParser(prog="python -m benchmarks.corpus")
    p.add_argument("size", nargs="?", default="full", choices=sorted(SIZES))
    p.add_argument("--seed", type=int, default=DEFAULT_SEED)
    p.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE)
    p.add_argument("--write-committed", action="store_true",
                   help=f"re-synthesize and overwrite the committed copy ({', '.join(COMMITTED)})")
    args = p.parse_args(argv)
    if args.write_committed:
        if args.size not in COMMITTED:
            p.error(f"only {', '.join(COMMITTED)} is committed with its audio")
        calls = write_committed(args.size, args.seed)
    else:
        calls = build(args.size, args.cache_dir, args.seed)
    if args.size == "full" and args.seed == DEFAULT_SEED:
        write_labels(calls)
    print(json.dumps({**summary(calls), "fallback_turns": dict(FALLBACKS)}))


if __name__ == "__main__":
    main()
