"""Train the end-of-turn model (``flux_cli/engine/eot_model.json``) and replay it.

Collect: every labelled turn of the training sets is fed alone (oracle turn start, its audio
as the engine hears it end to end, then 2 s of silence) through a real :class:`TurnSession`
with the real models, whose model records each judged pause's evidence and never ends the
turn; the 8 kHz set goes through the phone path (``engine_audio``). Fit: a hazard-style logistic
regression: at silences ``s`` of 0.2-2 s, a pause still silent at ``s`` is a sample, labelled 1
if it is the turn's real end and 0 if speech resumes later; features from
``eot_model.features`` plus ``silence_s = s``. Replay: for a model and a threshold, where each
pause would end (``sigmoid(base + w·s)`` reaches it), scored as false cut-offs and latency;
also the baselines (VAD silence alone, Smart Turn alone with Pipecat's rule) on the same pauses.

    python -m benchmarks.eot_train collect   # all sets, train and test splits (~20 min)
    python -m benchmarks.eot_train fit       # writes flux_cli/engine/eot_model.json
    python -m benchmarks.eot_train replay    # per-set figures, model vs baselines
"""

from __future__ import annotations

import argparse
import json
import math
import os
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from multiprocessing import Pool
from pathlib import Path
from typing import Any, cast

import numpy as np

from benchmarks import corpus, natural_corpus, unseen
from benchmarks.corpus import Call
from benchmarks.scoring import DEFAULT_SLACK, EARLY, percentile
from flux_cli.engine.detector import DEFAULT_CONFIG, PauseEvidence
from flux_cli.engine.eot_model import INTERACTION, MODEL_FILE, SILENCE, EotModel, features
from flux_cli.engine.models.asr import WhisperTranscriber
from flux_cli.engine.session import TurnSession
from flux_cli.protocol import StreamParams, Word

SR = 16000
PHONE_RATE = 8000
EVIDENCE_DIR = corpus.DEFAULT_CACHE / "eot-evidence3"  # 2: with sentence_end; 3: phone path
LEAD_IN_S = 0.3
TAIL_S = 2.0
CHUNK = 4096
SILENCE_GRID = (0.2, 0.25, 0.3, 0.35, 0.4, 0.5, 0.6, 0.7, 0.8, 1.0, 1.2, 1.5, 2.0)
# How much each training set counts (each set's samples are normalised to this total).
SET_WEIGHTS = {"real": 1.0, "neural": 1.0, "twoparty": 1.0, "noisy20": 0.5, "noisy10": 0.5,
               "tel8k": 0.5, "synthetic": 0.5}
# Cutting a speaker off costs more than answering a little late: an inside-pause sample
# weighs this much against a turn-end sample (chosen on the training splits: see fit()).
INSIDE_WEIGHT = 3.0
# Features whose value also changes how fast the confidence rises with silence.
INTERACTIONS = ("smart_logit", "kind_period", "kind_question", "last_conf")
L2 = 1.0


class _NeverEnds:
    """A confidence model that records evidence, asks for Smart Turn and never ends a turn."""

    uses_smart_turn = True

    def line(self, evidence: PauseEvidence) -> tuple[float, float]:
        return -100.0, 0.0


@dataclass
class PauseRecord:
    """One judged pause: where speech stopped, was judged and resumed; what was found."""

    speech_end: float
    decided_at: float
    resumed_at: float | None
    smart_turn: float
    transcript: str
    words: list[list[Any]]
    speech_s: float
    sentence_end: float | None = None  # absent from evidence collected before it existed

    def evidence(self) -> PauseEvidence:
        return PauseEvidence(self.smart_turn, self.transcript,
                             tuple(Word(w, c, s, e) for w, c, s, e in self.words), self.speech_s,
                             sentence_end=self.sentence_end)


class _Recorder:
    """A ``PauseObserver``: keeps every judged pause of one turn's run."""

    def __init__(self) -> None:
        self.records: list[PauseRecord] = []

    def judged(self, speech_end_s: float, decided_at_s: float, evidence: PauseEvidence) -> None:
        self.records.append(PauseRecord(
            speech_end_s, decided_at_s, None, evidence.smart_turn, evidence.transcript,
            [[w.word, w.confidence, w.start, w.end] for w in evidence.words], evidence.speech_s,
            evidence.sentence_end))

    def resumed(self, at_s: float) -> None:
        if self.records:
            self.records[-1].resumed_at = at_s


def set_calls(name: str, split: str, cache: Path = corpus.DEFAULT_CACHE) -> list[Call]:
    """A set's calls (``synthetic``: the flite and espeak calls, one voice a call)."""
    if name == "synthetic":
        calls = corpus.build("full", cache)
        return calls[:6] if split == "train" else calls[6:]
    return natural_corpus.build(name, split, cache)


def decoded_by_engine(data: bytes, encoding: str, rate: int, frame: int
                      ) -> tuple[np.ndarray, bool]:
    """``data`` sent in ``frame``-byte frames and decoded by the engine's wire decoder: (the
    16 kHz audio, whether the decoder handled it as a phone line)."""
    from flux_cli.server.wire_audio import make_decoder

    decoder = make_decoder(encoding, rate)
    parts = [decoder.feed(data[i:i + frame]) for i in range(0, len(data), frame)]
    return np.concatenate([*parts, decoder.flush()]), decoder.phone_line


def engine_audio(path: Path) -> tuple[np.ndarray, bool]:
    """(the call at 16 kHz as the engine hears it end to end, whether it is a phone line).

    An 8 kHz call goes as ``turns`` sends it, µ-law at 8 kHz through the server's decoder
    (the codec, the DC blocker, the phone line's resampler), and the session is told it is
    a phone line, as the connection tells it: the VAD's phone rule is part of its evidence.
    """
    import soundfile as sf
    import soxr

    from flux_cli.audio.encoding import encode

    audio, rate = sf.read(path, dtype="float32")
    if rate == PHONE_RATE:  # 20 ms frames, as a phone system sends them
        return decoded_by_engine(encode(audio, "mulaw"), "mulaw", rate, rate // 50)
    if rate != SR:
        audio = soxr.resample(audio, rate, SR)
    return np.asarray(audio, dtype=np.float32), False


def turn_runs(call: Call, index: int, audio: np.ndarray | None = None
              ) -> Iterator[tuple[int, np.ndarray]]:
    """Each labelled turn of a call as ``collect`` feeds it: (its first sample in the call,
    up to 0.3 s of the call before it, the turn, then 2 s of faint seeded noise). ``audio``:
    the call's ``engine_audio`` if already read."""
    if audio is None:
        audio, _ = engine_audio(call.path)
    rng = np.random.default_rng(index)
    for i, label in enumerate(call.turns):
        gap = label.start - (call.turns[i - 1].end if i else 0.0)
        lead = max(0.0, min(LEAD_IN_S, gap - 0.05))
        offset = round((label.start - lead) * SR)
        piece = audio[offset: round(label.end * SR)]
        tail = rng.normal(0.0, 1e-3, round(TAIL_S * SR)).astype(np.float32)
        yield offset, np.concatenate([piece, tail])


def _collect_call(job: tuple[str, str, int]) -> dict[str, Any]:
    name, split, index = job
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from flux_cli.engine.models.loader import load_engine

    engine = load_engine(asr_threads=1, asr_workers=1)
    # Every signal a model might weigh is recorded, whether or not the committed one does.
    whisper = cast(WhisperTranscriber, engine.transcriber)
    transcriber = whisper.with_options(replace(whisper.options, sentence_end=True))
    call = set_calls(name, split)[index]
    audio, phone_line = engine_audio(call.path)
    turns = []
    for offset, fed in turn_runs(call, index, audio):
        model = _NeverEnds()
        recorder = _Recorder()
        session = TurnSession(vad=engine.vad.new_stream(), transcriber=transcriber,
                              smart_turn=engine.smart_turn,
                              params=StreamParams(eot_timeout_ms=10000), request_id="t",
                              config=replace(DEFAULT_CONFIG, model=model),
                              sync_interim=False, observer=recorder)
        session.phone_line = phone_line
        session.start()
        for pos in range(0, len(fed), CHUNK):
            session.feed(fed[pos: pos + CHUNK])
        session.close()
        shift = offset / SR
        for r in recorder.records:
            r.speech_end += shift
            r.decided_at += shift
            r.resumed_at = None if r.resumed_at is None else r.resumed_at + shift
        turns.append([asdict(r) for r in recorder.records])
    return {"set": name, "split": split, "call": call.name, "turns": turns}


def evidence_path(name: str, split: str) -> Path:
    return EVIDENCE_DIR / f"{name}-{split}.json"


def collect(sets: Sequence[str], splits: Sequence[str], processes: int = 2) -> None:
    jobs = []
    for split in splits:
        for name in sets:
            calls = set_calls(name, split)  # build audio before the workers start
            if not evidence_path(name, split).exists():
                jobs += [(name, split, i) for i in range(len(calls))]
    with Pool(processes) as pool:
        results = pool.map(_collect_call, jobs, chunksize=1)
    EVIDENCE_DIR.mkdir(parents=True, exist_ok=True)
    for split in splits:
        for name in sets:
            mine = [r for r in results if r["set"] == name and r["split"] == split]
            if mine:
                evidence_path(name, split).write_text(json.dumps(mine))


def load(name: str, split: str) -> list[dict[str, Any]]:
    path = evidence_path(name, split)
    if not path.exists():  # a fresh machine: one line saying what to run, not a traceback
        raise SystemExit(f"no pause evidence for {name}/{split} ({path}): run `python -m "
                         f"benchmarks.eot_train collect --sets {name} --splits {split}` first")
    return list(json.loads(path.read_text()))


# --------------------------------------------------------------------------- pauses


@dataclass
class Pause:
    """A judged pause with its ground truth: the turn's end, or an inside pause of length L."""

    record: PauseRecord
    is_end: bool
    length: float  # silence until speech resumed (inf for the end)
    label_end: float  # the labelled end of the turn
    cut_window: list[tuple[float, float]] = field(default_factory=list)


def pauses_of(name: str, split: str) -> list[list[Pause]]:
    """Per turn, its judged pauses in order, labelled."""
    data = load(name, split)
    calls = {c.name: c for c in set_calls(name, split)}
    out = []
    for call_data in data:
        call = calls[call_data["call"]]
        for label, records in zip(call.turns, call_data["turns"], strict=True):
            turn: list[Pause] = []
            for raw in records:
                r = PauseRecord(**raw)
                is_end = r.speech_end >= label.end - EARLY
                length = math.inf if is_end or r.resumed_at is None else (
                    r.resumed_at - r.speech_end)
                turn.append(Pause(r, is_end, length, label.end, list(label.pauses)))
                if is_end:
                    break
            out.append(turn)
    return out


def samples(turns: list[list[Pause]], exclude: Sequence[str] = ()
            ) -> tuple[list[dict[str, float]], list[int]]:
    xs: list[dict[str, float]] = []
    ys: list[int] = []
    for turn in turns:
        for p in turn:
            base = {k: v for k, v in features(p.record.evidence()).items() if k not in exclude}
            decided = p.record.decided_at - p.record.speech_end
            for s in SILENCE_GRID:
                if s < decided - 1e-6 or (not p.is_end and s >= p.length):
                    continue
                row = {**base, SILENCE: s}
                for name in INTERACTIONS:
                    if name in base:
                        row[name + INTERACTION] = base[name] * s
                xs.append(row)
                ys.append(int(p.is_end))
    return xs, ys


def training_pauses(name: str) -> list[list[Pause]]:
    """A set's train split, for a step that learns or tunes; the unseen sets have none."""
    if name in natural_corpus.NEVER_TRAINED:
        raise ValueError(f"{name} is never read by a training or tuning step")
    return pauses_of(name, "train")


def fit(sets: Sequence[str], inside_weight: float = INSIDE_WEIGHT,
        exclude: Sequence[str] = (), l2: float = L2) -> EotModel:
    """Weighted logistic regression (Newton steps, L2 on all but the bias).

    ``inside_weight`` was chosen on the training splits alone: 1 (plain calibration) cut 50%
    of the real voice's inside pauses at eot_threshold 0.7 with p50 0.22 s; 2: 33% / 0.25 s;
    3: 17% / 0.38 s; 4: 10% / 0.48 s. 3 keeps the median near Flux's ~0.3-0.4 s while cutting
    a third as often. The output is then calibrated for a 3:1 cost: reliability plots weigh
    inside pauses 3 to 1 (``benchmarks/turns.py``).
    """
    rows: list[dict[str, float]] = []
    labels: list[int] = []
    weights: list[float] = []
    for name in sets:
        x, y = samples(training_pauses(name), exclude)
        rows += x
        labels += y
        share = SET_WEIGHTS.get(name, 1.0) * 1000 / max(len(x), 1)
        weights += [share * (1.0 if end else inside_weight) for end in y]
    names = sorted({k for r in rows for k in r})
    X = np.array([[r.get(n, 0.0) for n in names] for r in rows])
    target = np.array(labels, dtype=float)
    w = np.array(weights)
    theta = np.zeros(len(names))
    reg = np.full(len(names), l2)
    reg[names.index("bias")] = 0.0
    for _ in range(50):  # Newton / IRLS
        p = 1 / (1 + np.exp(-(X @ theta)))
        grad = X.T @ (w * (p - target)) + reg * theta
        hess = (X * (w * p * (1 - p))[:, None]).T @ X + np.diag(reg + 1e-9)
        step = np.linalg.solve(hess, grad)
        theta -= step
        if np.max(np.abs(step)) < 1e-8:
            break
    info = {"trained_on": {n: "train split" for n in sets}, "samples": len(labels),
            "silence_grid_s": list(SILENCE_GRID), "l2": l2, "inside_weight": inside_weight,
            "by": "python -m benchmarks.eot_train fit"}
    return EotModel({n: round(float(t), 4) for n, t in zip(names, theta, strict=True)}, info)


def fit_added(sets: Sequence[str], model: EotModel, name: str,
              inside_weight: float = INSIDE_WEIGHT) -> EotModel:
    """``model`` plus one new feature's weight, fitted with every other weight held fixed.

    One parameter on the train splits of ``sets``: the rest of the model keeps what it learnt
    from every family, so a family left out of ``sets`` still tests how the new signal carries
    over (and a weak signal cannot reshape the model).
    """
    xs: list[float] = []
    offsets: list[float] = []
    labels: list[int] = []
    weights: list[float] = []
    for set_name in sets:
        x, y = samples(training_pauses(set_name))
        share = SET_WEIGHTS.get(set_name, 1.0) * 1000 / max(len(x), 1)
        for row, end in zip(x, y, strict=True):
            xs.append(row.get(name, 0.0))
            offsets.append(sum(model.weights.get(k, 0.0) * v for k, v in row.items()
                               if k != name))
            labels.append(end)
            weights.append(share * (1.0 if end else inside_weight))
    x_arr, off, y_arr, w = (np.array(v, dtype=float) for v in (xs, offsets, labels, weights))
    theta = 0.0
    for _ in range(50):
        p = 1 / (1 + np.exp(-(off + theta * x_arr)))
        grad = float(np.sum(w * (p - y_arr) * x_arr)) + L2 * theta
        hess = float(np.sum(w * p * (1 - p) * x_arr * x_arr)) + L2
        step = grad / hess
        theta -= step
        if abs(step) < 1e-9:
            break
    info = {**model.info, f"{name}_fitted_on": {n: "train split" for n in sets},
            f"{name}_by": "python -m benchmarks.eot_train fit-added --feature " + name}
    return EotModel({**model.weights, name: round(theta, 4)}, info)


# --------------------------------------------------------------------------- replay


@dataclass
class Replay:
    pauses: int = 0
    cut: int = 0
    latencies: list[float] = field(default_factory=list)
    missed: int = 0
    turns: int = 0
    cut_by: list[Pause] = field(default_factory=list)  # per window cut, the pause that cut it

    def summary(self) -> dict[str, Any]:
        p50, p90 = percentile(self.latencies, 50), percentile(self.latencies, 90)
        return {"false_cutoffs": round(self.cut / self.pauses, 3) if self.pauses else None,
                "cut": self.cut, "pauses": self.pauses, "turns": self.turns,
                "missed": self.missed, "p50": p50 and round(p50, 3), "p90": p90 and round(p90, 3)}


def replay(turns: list[list[Pause]], end_silence: Any) -> Replay:
    """``end_silence(pause) -> s``: the silence at which a rule ends this pause."""
    out = Replay()
    for turn in turns:
        out.turns += 1
        windows = turn[0].cut_window if turn else []
        out.pauses += len(windows)
        cut: set[int] = set()
        ended = False
        for p in turn:
            s = end_silence(p)
            t = p.record.speech_end + s
            if p.is_end:
                out.latencies.append(t - p.label_end)
                ended = True
                break
            if s >= p.length:
                continue
            hit = {j for j, (a, b) in enumerate(windows)
                   if a - EARLY <= t <= b + DEFAULT_SLACK} - cut
            out.cut_by += [p] * len(hit)
            cut |= hit
        out.cut += len(cut)
        out.missed += not ended
    return out


def model_rule(model: EotModel, threshold: float, timeout: float = 5.0) -> Any:
    def end_silence(p: Pause) -> float:
        decided = p.record.decided_at - p.record.speech_end
        base, slope = model.line(p.record.evidence())
        need = math.log(threshold / (1 - threshold)) - base
        at = need / slope if slope > 0 else (decided if need <= 0 else math.inf)
        return min(max(at, decided), timeout)
    return end_silence


def vad_rule(seconds: float) -> Any:
    return lambda p: seconds


def smart_turn_rule(fallback: float = 3.0) -> Any:
    """Pipecat's stock rule: Smart Turn once when VAD stops; complete -> end, else wait."""
    def end_silence(p: Pause) -> float:
        decided = p.record.decided_at - p.record.speech_end
        return decided if p.record.smart_turn >= 0.5 else fallback
    return end_silence


THRESHOLDS = [float(t) for t in np.arange(0.5, 0.99, 0.025)]  # the trade-off's sweep


def threshold_curve(turns: list[list[Pause]], model: EotModel, rule: Any = model_rule
                    ) -> list[tuple[float, float, float | None]]:
    """(threshold to 3 places, false cut-off rate, EOT p50 or None without ends) at each of
    ``THRESHOLDS`` (``rule(model, threshold)``: where each pause ends; by default the engine's)."""
    curve = []
    for thr in THRESHOLDS:
        r = replay(turns, rule(model, thr))
        curve.append((round(thr, 3), r.cut / max(r.pauses, 1), percentile(r.latencies, 50)))
    return curve


def tradeoff(turns: list[list[Pause]], model: EotModel, rule: Any = model_rule
             ) -> dict[str, Any]:
    """eot-bench style: false cut-offs at a latency budget, latency at a cut-off budget
    (``rule(model, threshold)``: where each pause ends; by default the engine's)."""
    points = [(thr, c, lat or 9) for thr, c, lat in threshold_curve(turns, model, rule)]
    out: dict[str, Any] = {}
    for budget in (0.3, 0.6):
        ok = [c for _, c, lat in points if lat <= budget]
        out[f"cut_at_{int(budget * 1000)}ms"] = round(min(ok), 3) if ok else None
    for budget in (0.05, 0.10):
        ok = [lat for _, c, lat in points if c <= budget]
        out[f"latency_at_{int(budget * 100)}pct"] = round(min(ok), 3) if ok else None
    return out


def pause_signal_auc(name: str, split: str = "test") -> dict[str, Any]:
    """How well each recorded signal of a judged pause separates turn ends from pauses that
    speech resumed after (ROC AUC; 0.5 is chance): Smart Turn, and Whisper's sentence end."""
    from benchmarks.auc import roc_auc

    pauses = [p for turn in pauses_of(name, split) for p in turn]
    out: dict[str, Any] = {"ends": sum(p.is_end for p in pauses),
                           "inside": sum(not p.is_end for p in pauses)}
    for signal, get in (("smart_turn", lambda p: p.record.smart_turn),
                        ("whisper_end", lambda p: p.record.sentence_end)):
        scored = [(get(p), p.is_end) for p in pauses if get(p) is not None]
        auc = roc_auc(np.array([v for v, _ in scored]), np.array([e for _, e in scored]))
        out[signal] = None if math.isnan(auc) else round(auc, 3)
    return out


def report(sets: Sequence[str], model: EotModel, split: str = "test") -> dict[str, Any]:
    rows: dict[str, Any] = {}
    for name in sets:
        turns = pauses_of(name, split)
        rows[name] = {
            "model": replay(turns, model_rule(model, 0.7)).summary(),
            "vad_300": replay(turns, vad_rule(0.3)).summary(),
            "vad_600": replay(turns, vad_rule(0.6)).summary(),
            "vad_1000": replay(turns, vad_rule(1.0)).summary(),
            "smart_turn": replay(turns, smart_turn_rule()).summary(),
            "tradeoff": tradeoff(turns, model),
        }
    return rows


ALL_SETS = ("real", "neural", "twoparty", "noisy20", "noisy10", "tel8k", "synthetic")
FAMILIES = ("synthetic", "real", "neural")  # one voice family each
# Voices and texts nothing learns from (``benchmarks.unseen``): test splits only, reported by
# ``benchmarks.turns``, left out of ALL_SETS and FAMILIES, refused by ``training_pauses``.
NEVER_TRAINED = tuple(unseen.FAMILIES)


def leave_one_family_out(feature: str, families: Sequence[str] = FAMILIES) -> dict[str, Any]:
    """The committed model plus ``feature`` (one weight), fitted on every family but one and
    scored on that family's held-out split, for each family: does the signal carry over?"""
    base = EotModel.from_json(MODEL_FILE.read_text())
    base = EotModel({k: v for k, v in base.weights.items() if k != feature}, base.info)
    out: dict[str, Any] = {}
    for held in families:
        new = fit_added([f for f in families if f != held], base, feature)
        turns = pauses_of(held, "test")
        row: dict[str, Any] = {"weight": new.weights[feature]}
        for name, m in (("without", base), ("with", new)):
            row[name] = {"at_0.7": replay(turns, model_rule(m, 0.7)).summary(),
                         "tradeoff": tradeoff(turns, m)}
        out[held] = row
    return out


# The sets that hold each family's voices (the mixed sets hold both natural families).
FAMILY_SETS = {"synthetic": ("synthetic",),
               "real": ("real", "twoparty", "noisy20", "noisy10", "tel8k"),
               "neural": ("neural", "twoparty", "noisy20", "noisy10", "tel8k")}
TEXT_SIGNALS = ("text_eou", "whisper_end")  # left out of a refit unless asked for


def sets_without(family: str) -> list[str]:
    """The training sets that hold none of ``family``'s voices."""
    return [s for s in ALL_SETS if s not in FAMILY_SETS[family]]


def refit_one_family_out(added: Sequence[str], families: Sequence[str] = FAMILIES
                         ) -> dict[str, Any]:
    """The whole model refitted without any set that holds the held-out family's voices,
    with and without the ``added`` signals, scored on that family's test split: does the
    model, not just one weight, carry over to a voice it never heard?"""
    out: dict[str, Any] = {}
    for held in families:
        train = sets_without(held)
        without = fit(train, exclude=TEXT_SIGNALS)
        with_ = fit(train, exclude=[t for t in TEXT_SIGNALS if t not in added])
        turns = pauses_of(held, "test")
        row: dict[str, Any] = {"trained_on": train,
                               "weights": {a: with_.weights.get(a) for a in added}}
        for name, m in (("without", without), ("with", with_)):
            row[name] = {"at_0.7": replay(turns, model_rule(m, 0.7)).summary(),
                         "tradeoff": tradeoff(turns, m)}
        out[held] = row
    return out


def refit_markdown(added: Sequence[str], rows: dict[str, Any]) -> str:
    names = ", ".join(f"`{a}`" for a in added)
    head = [f"# Leave one voice family out, whole model refitted: {names}", "",
            f"`python -m benchmarks.eot_train lofo-refit --feature {','.join(added)}`: for each "
            "family, the end-of-turn model is fitted from scratch on the train splits of the "
            "sets that do not hold its voices (the two-party, noisy and 8 kHz sets hold both "
            "natural voices), once without the text signals and once with the added ones, and "
            "scored on the held-out family's test split (replay of the engine's own per-pause "
            "evidence).", "",
            "| held-out family | trained on | weights | cut-offs at 0.7 without → with "
            "| p50 / p90 without → with | latency at 10% cut-offs | cut-offs at a 600 ms budget |",
            "|---|---|---|---|---|---|---|"]
    return "\n".join(head + _rows(rows, lambda fam, r: (
        f"| {fam} | {', '.join(r['trained_on'])} | "
        + ", ".join(f"{k} {v}" for k, v in r["weights"].items())))) + "\n"


def _rows(rows: dict[str, Any], first: Any) -> list[str]:
    def ms(x: float | None) -> str:
        return "-" if x is None else f"{x * 1000:.0f} ms"

    def pct(x: float | None) -> str:
        return "-" if x is None else f"{x:.1%}"

    lines = []
    for fam, r in rows.items():
        a, b = r["without"], r["with"]
        lines.append(
            f"{first(fam, r)} | {pct(a['at_0.7']['false_cutoffs'])} → "
            f"{pct(b['at_0.7']['false_cutoffs'])} | {ms(a['at_0.7']['p50'])} / "
            f"{ms(a['at_0.7']['p90'])} → {ms(b['at_0.7']['p50'])} / {ms(b['at_0.7']['p90'])} | "
            f"{ms(a['tradeoff']['latency_at_10pct'])} → {ms(b['tradeoff']['latency_at_10pct'])} | "
            f"{pct(a['tradeoff']['cut_at_600ms'])} → {pct(b['tradeoff']['cut_at_600ms'])} |")
    return lines


def lofo_markdown(feature: str, rows: dict[str, Any]) -> str:
    head = [f"# Leave one voice family out: `{feature}` as a feature of the end-of-turn model",
            "", f"`python -m benchmarks.eot_train lofo --feature {feature}`: the committed model "
            "plus one weight, fitted on the train splits of the other families, scored on the "
            "held-out family's test split (replay of the engine's own per-pause evidence).", "",
            "| held-out family | weight | cut-offs at 0.7 without → with "
            "| p50 / p90 without → with | latency at 10% cut-offs | cut-offs at a 600 ms budget |",
            "|---|---|---|---|---|---|"]
    return "\n".join(head + _rows(rows, lambda fam, r: f"| {fam} | {r['weight']}")) + "\n"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.eot_train")
    p.add_argument("action", choices=["collect", "fit", "fit-added", "lofo", "lofo-refit",
                                      "replay", "auc"])
    p.add_argument("--feature", default="text_eou",
                   help="fit-added, lofo: the new feature; lofo-refit: comma-separated")
    p.add_argument("--exclude", default=",".join(TEXT_SIGNALS),
                   help="fit: features left out (default: the text signals)")
    p.add_argument("--sets", default=",".join(ALL_SETS))
    p.add_argument("--splits", default="train,test")
    p.add_argument("--processes", type=int, default=2)
    p.add_argument("--split", default="test", help="replay: which split to score")
    args = p.parse_args(argv)
    sets = args.sets.split(",")
    if args.action == "collect":
        collect(sets, args.splits.split(","), args.processes)
    elif args.action == "lofo":
        rows = leave_one_family_out(args.feature)
        results = Path(__file__).with_name("results")
        (results / f"{args.feature}_lofo.json").write_text(json.dumps(rows, indent=1) + "\n")
        text = lofo_markdown(args.feature, rows)
        (results / f"{args.feature}_lofo.md").write_text(text)
        print(text)
    elif args.action == "lofo-refit":
        added = args.feature.split(",")
        rows = refit_one_family_out(added)
        results = Path(__file__).with_name("results")
        stem = "_".join(added) + "_lofo_refit"
        (results / f"{stem}.json").write_text(json.dumps(rows, indent=1) + "\n")
        text = refit_markdown(added, rows)
        (results / f"{stem}.md").write_text(text)
        print(text)
    elif args.action == "fit-added":
        base = EotModel.from_json(MODEL_FILE.read_text())
        base = EotModel({k: v for k, v in base.weights.items() if k != args.feature}, base.info)
        model = fit_added(sets, base, args.feature)
        MODEL_FILE.write_text(model.to_json() + "\n")
        print(json.dumps({args.feature: model.weights[args.feature]}, indent=1))
    elif args.action == "fit":
        model = fit(sets, exclude=[f for f in args.exclude.split(",") if f])
        MODEL_FILE.write_text(model.to_json() + "\n")
        print(json.dumps(dict(model.weights), indent=1))
    elif args.action == "auc":
        print(json.dumps({name: pause_signal_auc(name, args.split) for name in sets}, indent=1))
    else:
        model = EotModel.from_json(MODEL_FILE.read_text())
        print(json.dumps(report(sets, model, args.split), indent=1))


if __name__ == "__main__":
    main()
