"""Regenerate the multilingual check set: ``python samples/make_multilingual.py`` from the root.

Why these voices: no neural voice for these languages installs offline, so the set uses what
Debian ships: espeak-ng for all ten Flux languages (robotic: a hard test of language ID) and
festival's ``festvox-ru`` for Russian (unit selection from recordings, BSD-style licence: the
nearest thing to a real voice here). The clips are committed so that the tests and the
benchmark need no synthesiser; this script records how they were made and writes
``multilingual/labels.json`` (text, language, voice of each clip; turn bounds of the calls,
measured from the audio).

Needs ``espeak-ng``, ``sox`` and, for the Russian festival clips, ``festival festvox-ru``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

HERE = Path(__file__).resolve().parent
OUT = HERE / "multilingual"
RATE = 16000
ESPEAK_RATE = 130  # words a minute: espeak's default 175 is too fast to be understood
ESPEAK_VOICES = {"en": "en-us", "es": "es", "fr": "fr-fr", "de": "de", "it": "it", "pt": "pt",
                 "nl": "nl", "ru": "ru", "hi": "hi", "ja": "ja"}
FESTIVAL_VOICES = {"ru": "voice_msu_ru_nsh_clunits"}

# Four sentences per language, the same meanings in each (a booking, a train, a question, a
# short reply), written for this set.
SENTENCES: dict[str, list[str]] = {
    "en": ["I would like to change my delivery address, please.",
           "The train to the airport leaves in ten minutes.",
           "Could you tell me when the shop opens tomorrow?",
           "Yes, that works for me, thank you."],
    "es": ["Quiero reservar una mesa para dos personas esta noche.",
           "El tren al aeropuerto sale en diez minutos.",
           "¿Puede decirme cuándo abre la tienda mañana?",
           "Sí, eso me va bien, gracias."],
    "fr": ["Je voudrais changer mon adresse de livraison, s'il vous plaît.",
           "Le train pour l'aéroport part dans dix minutes.",
           "Pouvez-vous me dire quand le magasin ouvre demain?",
           "Oui, cela me convient, merci."],
    "de": ["Ich möchte meine Lieferadresse ändern, bitte.",
           "Der Zug zum Flughafen fährt in zehn Minuten ab.",
           "Können Sie mir sagen, wann der Laden morgen öffnet?",
           "Ja, das passt mir gut, danke."],
    "it": ["Vorrei prenotare un tavolo per due persone stasera.",
           "Il treno per l'aeroporto parte tra dieci minuti.",
           "Può dirmi quando apre il negozio domani?",
           "Sì, per me va bene, grazie."],
    "pt": ["Eu gostaria de mudar o meu endereço de entrega, por favor.",
           "O comboio para o aeroporto parte daqui a dez minutos.",
           "Pode dizer-me quando a loja abre amanhã?",
           "Sim, para mim está bem, obrigado."],
    "nl": ["Ik wil graag mijn bezorgadres wijzigen, alstublieft.",
           "De trein naar het vliegveld vertrekt over tien minuten.",
           "Kunt u mij vertellen wanneer de winkel morgen opengaat?",
           "Ja, dat komt mij goed uit, dank u."],
    "ru": ["Я хотел бы изменить адрес доставки, пожалуйста.",
           "Поезд в аэропорт отправляется через десять минут.",
           "Скажите, пожалуйста, когда завтра открывается магазин?",
           "Да, мне это подходит, спасибо."],
    "hi": ["मैं अपना पता बदलना चाहता हूँ।",
           "हवाई अड्डे की ट्रेन दस मिनट में जाती है।",
           "क्या आप बता सकते हैं कि दुकान कल कब खुलेगी?",
           "हाँ, यह मेरे लिए ठीक है, धन्यवाद।"],
    "ja": ["あしたの あさ しちじに おきます。",
           "くうこうへの でんしゃは じゅっぷんごに でます。",
           "みせは あした なんじに あきますか。",
           "はい、それで だいじょうぶです、ありがとう。"],
}
# A call that changes language between turns: (language, sentence index), 1.5 s apart.
SWITCH = [("en", 0), ("es", 0), ("en", 1), ("es", 1)]
SWITCH_GAP_S = 1.5
# The bundled Spanish sample for ``flux transcribe ... --language-hint es``.
SPANISH = ["Hola, buenos días. Quiero reservar una mesa para dos personas.",
           "¿A qué hora abre el restaurante?",
           "Muchas gracias, hasta luego."]
SPANISH_GAP_S = 1.8
LEVEL_DBFS = -40.0  # speech is where a 10 ms frame is above this (turn bounds)


def _espeak(lang: str, text: str, tmp: Path) -> np.ndarray:
    raw = tmp / "espeak.wav"
    subprocess.run(["espeak-ng", "-v", ESPEAK_VOICES[lang], "-s", str(ESPEAK_RATE), "-w",
                    str(raw), text], check=True)
    return _to_16k(raw, tmp)


def _festival(lang: str, text: str, tmp: Path) -> np.ndarray:
    src, raw = tmp / "text.txt", tmp / "festival.wav"
    src.write_text(text, encoding="utf-8")
    subprocess.run(["text2wave", "-eval", f"({FESTIVAL_VOICES[lang]})", str(src), "-o",
                    str(raw)], check=True, capture_output=True)
    return _to_16k(raw, tmp)


def _to_16k(path: Path, tmp: Path) -> np.ndarray:
    out = tmp / "16k.wav"
    # -G guards against clipping in the resampler; level is normalised below anyway.
    subprocess.run(["sox", "-G", "-q", str(path), "-r", str(RATE), "-c", "1", "-b", "16",
                    str(out)], check=True)
    audio, _ = sf.read(out, dtype="float32")
    return _trimmed(np.asarray(audio, dtype=np.float32))


def _trimmed(audio: np.ndarray) -> np.ndarray:
    """Cut leading/trailing silence, keep 0.1 s either side, peak at -3 dBFS."""
    loud = _loud_frames(audio)
    if not loud.any():
        return audio
    frame = RATE // 100
    first, last = int(np.argmax(loud)), len(loud) - int(np.argmax(loud[::-1]))
    pad = RATE // 10
    cut = audio[max(0, first * frame - pad): min(len(audio), last * frame + pad)]
    return (cut * (10 ** (-3 / 20) / max(float(np.max(np.abs(cut))), 1e-6))).astype(np.float32)


def _loud_frames(audio: np.ndarray) -> np.ndarray:
    frame = RATE // 100
    n = len(audio) // frame
    rms = np.sqrt(np.mean(np.square(audio[: n * frame].reshape(n, frame)), axis=1))
    return np.asarray(rms > 10 ** (LEVEL_DBFS / 20))


def _call(pieces: list[np.ndarray], gap_s: float) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """Pieces joined by exact silences; each turn's (start, end) in seconds."""
    gap = np.zeros(int(gap_s * RATE), dtype=np.float32)
    out: list[np.ndarray] = [gap[: RATE // 2]]
    bounds = []
    pos = len(out[0])
    for piece in pieces:
        bounds.append((round(pos / RATE, 3), round((pos + len(piece)) / RATE, 3)))
        out += [piece, gap]
        pos += len(piece) + len(gap)
    return np.concatenate(out), bounds


def main() -> None:
    if shutil.which("espeak-ng") is None or shutil.which("sox") is None:
        sys.exit("needs espeak-ng and sox (apt-get install espeak-ng sox)")
    festival = shutil.which("text2wave") is not None
    OUT.mkdir(exist_ok=True)
    clips: dict[str, dict[str, str]] = {}
    made: dict[tuple[str, int], np.ndarray] = {}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        for lang, sentences in SENTENCES.items():
            for i, text in enumerate(sentences):
                audio = _espeak(lang, text, tmp)
                made[(lang, i)] = audio
                name = f"{lang}_{i}_espeak.flac"
                sf.write(OUT / name, audio, RATE, subtype="PCM_16")
                clips[name] = {"language": lang, "text": text, "voice": "espeak-ng"}
                if festival and lang in FESTIVAL_VOICES:
                    name = f"{lang}_{i}_festival.flac"
                    sf.write(OUT / name, _festival(lang, text, tmp), RATE, subtype="PCM_16")
                    clips[name] = {"language": lang, "text": text, "voice": "festival"}
        switch, bounds = _call([made[key] for key in SWITCH], SWITCH_GAP_S)
        sf.write(OUT / "switch_en_es.flac", switch, RATE, subtype="PCM_16")
        spanish, spanish_bounds = _call([_espeak("es", t, tmp) for t in SPANISH], SPANISH_GAP_S)
        sf.write(HERE / "spanish.wav", spanish, RATE, subtype="PCM_16")
    calls = {
        "switch_en_es.flac": [
            {"language": lang, "text": SENTENCES[lang][i], "start": a, "end": b}
            for (lang, i), (a, b) in zip(SWITCH, bounds, strict=True)
        ],
        "../spanish.wav": [
            {"language": "es", "text": text, "start": a, "end": b}
            for text, (a, b) in zip(SPANISH, spanish_bounds, strict=True)
        ],
    }
    labels = {"sample_rate": RATE, "espeak_rate_wpm": ESPEAK_RATE, "clips": clips,
              "calls": calls}
    (OUT / "labels.json").write_text(json.dumps(labels, ensure_ascii=False, indent=1) + "\n")
    print(f"{len(clips)} clips, 2 calls written to {OUT}")


if __name__ == "__main__":
    main()
