"""``flux eval`` as a library call: settings in, a report out, an exit code back.

Order: check the flags; find every call's truth (a bad file is reported and skipped);
for the paid service, say how many audio minutes will go out and ask; start the local
engine if no server was named; stream; score; print. Ctrl-C stops the streams, and what
was scored so far is reported (exit 130).
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import replace

from flux_cli.env import Env
from flux_cli.errors import INTERRUPTED_EXIT_CODE, FluxError, UsageError, redact
from flux_cli.evaluate import formats
from flux_cli.evaluate.calls import TruthSource, call_truth
from flux_cli.evaluate.formats import Evaluation
from flux_cli.evaluate.gaps import GapRule
from flux_cli.evaluate.plan import Evaluator, Failures, confirm, report_error, say
from flux_cli.evaluate.results import RunSummary
from flux_cli.evaluate.runner import Server
from flux_cli.evaluate.scoring import worst_cases
from flux_cli.evaluate.settings import EvalSettings, is_paid, run_name
from flux_cli.evaluate.tradeoff import recommend
from flux_cli.evaluate.truth import CallTruth
from flux_cli.transcribe.settings import TranscribeSettings


def find_truths(settings: EvalSettings, env: Env, failures: Failures) -> list[CallTruth]:
    how = TruthSource(settings.speaker_channel, settings.labels, settings.speaker,
                      gaps=GapRule(min_pause_s=settings.min_pause))
    truths = []
    for call in settings.calls:
        try:
            truths.append(call_truth(call, how))
        except FluxError as exc:
            failures.add(call, exc.message, exc.exit_code)
            report_error(env, call, exc.message, settings.api_key)
    return truths


def _server(settings: EvalSettings, url: str | None, env: Env,
            stack: contextlib.ExitStack) -> Server:
    """The named server, else the embedded engine: chosen as ``flux transcribe`` chooses."""
    from flux_cli.transcribe.setup import server_base

    target = TranscribeSettings(source="", url=url, debug=settings.debug,
                                voice_change=settings.voice_change)
    base = server_base(target, env, stack)
    api_key = None if url is None else settings.api_key
    return Server(base, settings.params, api_key=api_key, speed=settings.speed)


def _load_compare(path: str) -> list[RunSummary]:
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        runs = [RunSummary.from_dict(run) for run in data["runs"]]
    except OSError as exc:
        raise UsageError(f"cannot read --compare {path}: {exc.strerror or exc}") from None
    except (ValueError, KeyError, TypeError):
        raise UsageError(f"--compare {path}: not a flux eval --format json result") from None
    for summary in runs:  # told apart from this run's, which may have the same server
        summary.name = f"{summary.name} ({os.path.basename(path)})"
        for result in summary.results:
            result.point = replace(result.point, run=summary.name)
    return runs


def _compare_target(compare: str | None) -> tuple[str | None, bool] | None:
    """``--compare``: (URL or None for the local engine, True) to run, or None for a file."""
    if compare is None:
        return None
    if compare == "local":
        return None, True
    if compare.startswith(("ws://", "wss://")):
        from flux_cli.transcribe.settings import normalise_url

        return normalise_url(compare), True
    return None


def _output(settings: EvalSettings, env: Env, evaluation: Evaluation) -> None:
    secrets = [settings.api_key]  # a key can hide in a file name: never print it
    if settings.format == "json":
        env.stdout.write(redact(formats.json_report(evaluation), secrets))
    elif env.stdout_isatty:
        from flux_cli.render.eval_table import print_evaluation

        print_evaluation(env.stdout, evaluation)
    else:
        env.stdout.write(redact(formats.text_report(evaluation), secrets))
    env.stdout.flush()


def run(settings: EvalSettings, env: Env) -> int:
    settings.validate()
    compare_run = _compare_target(settings.compare)
    earlier = _load_compare(settings.compare) if settings.compare and not compare_run else []
    if settings.plot is not None:
        from flux_cli.report.plot import _pyplot

        _pyplot()  # a missing [report] extra fails before anything is streamed
    failures = Failures(secret=settings.api_key)
    truths = find_truths(settings, env, failures)
    if not truths:
        return failures.code  # each file's one-line error is on stderr already
    targets: list[str | None] = [settings.url]
    if compare_run is not None:
        targets.append(compare_run[0])
    replaying = settings.replay and len(settings.thresholds) > 1 and None not in settings.thresholds
    runs_per_call = 1 if replaying else len(settings.thresholds)
    seconds = sum(t.duration for t in truths)
    for url in targets:
        if is_paid(url):
            confirm(settings, env, seconds, runs_per_call, run_name(url))
    summaries: list[RunSummary] = []
    interrupted = False
    with contextlib.ExitStack() as stack:
        evaluator = Evaluator(settings, env, truths, failures, stack)
        for url in targets:
            if interrupted:
                break
            server = _server(settings, url, env, stack)
            summaries.append(evaluator.evaluate(server, run_name(url)))
            interrupted = evaluator.interrupted
    if len({s.name for s in summaries}) < len(summaries):
        summaries[-1].name += " (compare)"
    evaluation = _evaluation(settings, truths, summaries + earlier, failures, interrupted)
    if settings.plot is not None:
        from flux_cli.evaluate.plot import write_tradeoff

        write_tradeoff(settings.plot, evaluation.runs, evaluation.recommendation)
        say(env, f"plot written to {settings.plot}")
    _output(settings, env, evaluation)
    if interrupted:
        return INTERRUPTED_EXIT_CODE
    return failures.code


def _evaluation(settings: EvalSettings, truths: list[CallTruth], summaries: list[RunSummary],
                failures: Failures, interrupted: bool) -> Evaluation:
    scored = {c.call for s in summaries[:1] for r in s.results for c in r.calls}
    evaluation = Evaluation(
        truths=[t for t in truths if t.name in scored] or truths, runs=summaries,
        failed=failures.listed, interrupted=interrupted, calls_given=len(settings.calls),
    )
    if summaries and summaries[0].results:
        rec = recommend(summaries[0].points, settings.target)
        evaluation.recommendation = rec
        chosen = next((r for r in summaries[0].results if r.point is rec.point),
                      summaries[0].results[0])
        evaluation.worst = worst_cases(chosen.point.score, settings.worst)
    return evaluation
