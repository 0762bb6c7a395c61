"""Which language a decode may use and which ones a turn reports: hints bias, never forbid.

Flux's multilingual model knows ten languages; ``language_hint`` "biases the model toward" the
hinted ones, and without hints it detects the language itself. Whisper's language ID covers 99
languages, so the engine first keeps only Flux's ten (on our espeak-ng check set this alone
took language ID from 12/30 to 17/30 right: no Thai or Vietnamese for robotic Spanish), then
multiplies each hinted language's probability by ``HINT_WEIGHT``: a hinted language wins
unless an unhinted one is that many times as likely, so a caller who hinted ``es`` and then
plainly speaks Russian still gets Russian. Under a second of audio Whisper's language ID says
little (the committed check set's first 0.6 s: 15 of 44 clips right without a hint), so there
a hint counts for more (``SHORT_HINT_WEIGHT``): a lone "Hola" with ``es`` hinted was written
in Japanese at 20x on one CPU and not on another.

Pure functions over probabilities: the Whisper wrapper calls them with what its model says.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from flux_cli.protocol import LANGUAGES, MULTILINGUAL_MODEL

HINT_WEIGHT = 20.0  # from LONG_S of audio on
# Under SHORT_S of audio (geometric in between). On the check set's first 0.6 s (44 clips,
# ``samples/multilingual``, Whisper base): a right hint picked 31 at 20x, 42 at 300x; with each
# of the 9 wrong hints, the spoken language was kept 102 of 396 times at 20x, 36 at 300x, where
# no hint at all gets it right 15 of 44 times. Over whole clips 20x stays (37/44, 222/396).
SHORT_HINT_WEIGHT = 300.0
SHORT_S = 1.0
LONG_S = 2.0
# Another language is reported beside the most likely one when at least this likely: a turn
# that mixes languages (code-switching) names both, most likely first.
REPORT_MIN = 0.2
# Languages the end-of-turn model's word features can read (its word lists are English).
TEXT_FEATURE_LANGUAGES = frozenset({"en"})
# Languages written without spaces between words: word counts mean nothing there.
UNSPACED_LANGUAGES = frozenset({"ja"})


@dataclass(frozen=True)
class LanguageChoice:
    """The languages a decode may pick from (detecting among them) and the hinted ones."""

    candidates: tuple[str, ...]
    hinted: tuple[str, ...] = ()

    @property
    def fixed(self) -> str | None:
        """The one language when there is nothing to detect."""
        return self.candidates[0] if len(self.candidates) == 1 else None


def base_code(tag: str) -> str:
    """``pt-BR`` -> ``pt``: locale tags map to the base language, as the live service does."""
    return tag.split("-", 1)[0].strip().lower()


def choice_for(model: str, hints: Sequence[str]) -> LanguageChoice | None:
    """What a stream's decodes may use; None: English, the engine's default decode."""
    if model != MULTILINGUAL_MODEL:
        return None
    hinted = tuple(dict.fromkeys(base_code(h) for h in hints if base_code(h) in LANGUAGES))
    return LanguageChoice(tuple(LANGUAGES), hinted)


def hint_weight(seconds: float | None) -> float:
    """How much a hint multiplies its language's probability, for a window this long (None:
    long): ``SHORT_HINT_WEIGHT`` up to ``SHORT_S``, ``HINT_WEIGHT`` from ``LONG_S``."""
    if seconds is None or seconds >= LONG_S:
        return HINT_WEIGHT
    if seconds <= SHORT_S:
        return SHORT_HINT_WEIGHT
    share = (seconds - SHORT_S) / (LONG_S - SHORT_S)
    return float(SHORT_HINT_WEIGHT * (HINT_WEIGHT / SHORT_HINT_WEIGHT) ** share)


def ranked(probabilities: Mapping[str, float], choice: LanguageChoice,
           seconds: float | None = None) -> list[tuple[str, float]]:
    """The candidates, most likely first, after the hint bias (renormalised over them) for a
    window of ``seconds`` of audio (None: long)."""
    weight = hint_weight(seconds)
    weights = {
        lang: max(probabilities.get(lang, 0.0), 0.0) * (weight if lang in choice.hinted else 1.0)
        for lang in choice.candidates
    }
    total = sum(weights.values())
    if total <= 0.0:  # the model gave none of them any weight: fall back to the order given
        order = [*choice.hinted, *(c for c in choice.candidates if c not in choice.hinted)]
        return [(lang, 1.0 if i == 0 else 0.0) for i, lang in enumerate(order)]
    # sorted() is stable: ties keep the candidates' order
    return sorted(((lang, w / total) for lang, w in weights.items()), key=lambda lp: -lp[1])


def reported(ranking: Sequence[tuple[str, float]]) -> list[str]:
    """What ``TurnInfo.languages`` says: the pick, then any other likely language."""
    if not ranking:
        return []
    return [ranking[0][0], *(lang for lang, p in ranking[1:] if p >= REPORT_MIN)]


def merged(*lists: Iterable[str]) -> list[str]:
    """Languages of several decodes of one turn, each once, in first-seen order."""
    return list(dict.fromkeys(lang for languages in lists for lang in languages))
