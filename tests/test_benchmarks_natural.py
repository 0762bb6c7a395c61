"""The natural corpus's labeller: the engine's decoding, frozen where later stops added to it."""

from __future__ import annotations

from dataclasses import replace

from benchmarks.natural import label_decode
from flux_cli.engine.models.asr import AsrOptions


def test_the_labeller_decodes_as_the_engine_without_its_second_decodes() -> None:
    """Decoding again where tiny.en stopped early or skipped a stretch changes which words the
    engine keeps; the corpus's word times must not move with it (docs/TURNS.md, stop 42)."""
    engine = AsrOptions()
    labeller = label_decode(engine)
    assert (labeller.decode_on_s, labeller.skipped_word_s) == (0.0, 0.0)
    assert engine.decode_on_s > 0 and engine.skipped_word_s > 0
    assert replace(labeller, decode_on_s=engine.decode_on_s,
                   skipped_word_s=engine.skipped_word_s) == engine
