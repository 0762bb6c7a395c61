"""``flux eval`` on the real local engine: thresholds replayed from one run agree with a
separate run per threshold to within one pause per call, on the bundled stereo calls."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from flux_cli.env import Env
from flux_cli.evaluate.command import run
from flux_cli.evaluate.settings import EvalSettings
from flux_cli.server.embedded import EmbeddedServer, start_embedded_server

pytestmark = pytest.mark.slow  # the real models: the full tier

CALLS = sorted(str(p) for p in (Path(__file__).resolve().parent.parent / "samples" / "calls")
               .glob("*.ogg"))
THRESHOLDS: list[float | None] = [0.6, 0.8]


@pytest.fixture(scope="module")
def engine() -> Iterator[EmbeddedServer]:
    running = start_embedded_server(on_status=lambda _: None)
    yield running
    running.close()


def _text(stream: object) -> str:
    assert isinstance(stream, io.StringIO)
    return stream.getvalue()


def _evaluate(url: str, replay: bool) -> dict[str, Any]:
    env = Env(io.BytesIO(), io.StringIO(), io.StringIO(), stdout_isatty=False)
    settings = EvalSettings(calls=CALLS, url=url, thresholds=THRESHOLDS, replay=replay,
                            speed=0.0, jobs=2, format="json")
    assert run(settings, env) == 0, _text(env.stderr)
    report: dict[str, Any] = json.loads(_text(env.stdout))
    return report


def test_replay_agrees_with_separate_runs(engine: EmbeddedServer) -> None:
    assert len(CALLS) == 2
    replayed = _evaluate(engine.url, replay=True)
    separate = _evaluate(engine.url, replay=False)
    assert replayed["runs"][0]["how"].startswith("one run at eot_threshold 0.8")
    assert separate["runs"][0]["how"] == "one run per threshold"
    for a, b in zip(replayed["runs"][0]["thresholds"], separate["runs"][0]["thresholds"],
                    strict=True):
        assert a["eot_threshold"] == b["eot_threshold"]
        assert a["replayed"] == (a["eot_threshold"] != 0.8) and not b["replayed"]
        for call_a, call_b in zip(a["calls"], b["calls"], strict=True):
            assert call_a["call"] == call_b["call"]
            differ = (abs(call_a["cutoffs"] - call_b["cutoffs"])
                      + abs(call_a["missed"] - call_b["missed"]))
            assert differ <= 1, (a["eot_threshold"], call_a, call_b)
    # the run at the top threshold is the same kind of run either way: same scores
    top_a, top_b = replayed["runs"][0]["thresholds"][-1], separate["runs"][0]["thresholds"][-1]
    assert (top_a["false_cutoffs"], top_a["missed_ends"]) == (
        top_b["false_cutoffs"], top_b["missed_ends"])
