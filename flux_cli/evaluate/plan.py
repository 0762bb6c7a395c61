"""The runs one server needs, and their scores: one run and replay, or one per threshold.

Replay is tried when every threshold asked for is a number and there are several: one run
at the highest, the rest read from its ``Update`` confidences (``replay``). A server whose
confidences do not move gets one run per threshold instead (on the paid service, after
asking again: that is more audio than was agreed to).
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field

from flux_cli.env import Env
from flux_cli.errors import INTERRUPTED_EXIT_CODE, UsageError, error_line, redact
from flux_cli.evaluate.events import TurnEvent
from flux_cli.evaluate.replay import replayable
from flux_cli.evaluate.results import RunSummary, score_threshold
from flux_cli.evaluate.runner import Server, Stream, run_streams
from flux_cli.evaluate.screen import Screen
from flux_cli.evaluate.settings import EvalSettings, is_paid
from flux_cli.evaluate.truth import CallTruth


def say(env: Env, text: str) -> None:
    env.stderr.write(f"flux: {text}\n")
    env.stderr.flush()


def report_error(env: Env, call: str, message: str, secret: str | None) -> None:
    """One file's error, in the one-line form every command uses, the key redacted."""
    env.stderr.write(error_line(message, [secret], label=call) + "\n")
    env.stderr.flush()


@dataclass
class Failures:
    """Calls that could not be scored and why; the exit code is the worst of theirs."""

    secret: str | None = field(default=None, repr=False)  # redacted from what is kept
    items: list[tuple[str, str, int]] = field(default_factory=list)

    def add(self, call: str, message: str, code: int) -> None:
        call, message = redact(call, [self.secret]), redact(message, [self.secret])
        if all(c != call for c, _m, _x in self.items):
            self.items.append((call, message, code))

    @property
    def listed(self) -> list[tuple[str, str]]:
        return [(c, m) for c, m, _x in self.items]

    @property
    def code(self) -> int:
        return max((x for *_rest, x in self.items), default=0)


def confirm(settings: EvalSettings, env: Env, seconds: float, runs: int, host: str) -> None:
    minutes = seconds * runs / 60
    plural = "s" if runs != 1 else ""
    say(env, f"this sends {minutes:.1f} minutes of audio to {host} ({seconds / 60:.1f} min "
              f"x {runs} run{plural}), billed by the minute")
    if settings.yes:
        return
    env.stderr.write("flux: go on? [y/N] ")
    env.stderr.flush()
    answer = env.stdin.readline().decode("utf-8", "replace").strip().lower()
    if answer not in ("y", "yes"):
        raise UsageError("nothing was sent (answer y, or pass --yes)")


def _streamed_channel(settings: EvalSettings) -> int | None:
    """Stereo: the speaker's channel only; labels: the whole recording unless one is named."""
    if settings.labels is not None:
        return settings.speaker_channel
    return settings.speaker_channel if settings.speaker_channel is not None else 0


class Evaluator:
    """Runs the plan against one server and scores it."""

    def __init__(self, settings: EvalSettings, env: Env, truths: list[CallTruth],
                 failures: Failures, stack: contextlib.ExitStack) -> None:
        self.settings = settings
        self.env = env
        self.truths = truths
        self.failures = failures
        self.stack = stack
        self.interrupted = False

    def _run(self, server: Server, thresholds: Sequence[float | None],
             truths: Sequence[CallTruth]) -> dict[float | None, dict[str, list[TurnEvent]]]:
        channel = _streamed_channel(self.settings)
        streams = [Stream(t.name, channel, threshold) for threshold in thresholds
                   for t in truths]
        screen = Screen(self.env)
        try:
            results, stopped = run_streams(
                streams, server, self.settings.jobs,
                on_error=lambda s, m: self._failed(s.call, m),
                on_tick=screen.tick, on_done=screen.done, stack=self.stack,
            )
        finally:
            screen.stop()
        self.interrupted = self.interrupted or stopped
        out: dict[float | None, dict[str, list[TurnEvent]]] = {t: {} for t in thresholds}
        for item in results:
            if item.finished:
                out[item.stream.threshold][item.stream.call] = item.collector.events
            elif item.result is not None and item.result.code not in (0, INTERRUPTED_EXIT_CODE):
                self.failures.add(item.stream.call, item.result.message or "failed",
                                  item.result.code)
        return out

    def _failed(self, call: str, message: str) -> None:
        report_error(self.env, call, message, self.settings.api_key)

    def evaluate(self, server: Server, name: str) -> RunSummary:
        thresholds = self.settings.thresholds
        numbered = [t for t in thresholds if t is not None]
        if self.settings.replay and len(numbered) > 1 and len(numbered) == len(thresholds):
            top = max(numbered)
            events = self._run(server, [top], self.truths)[top]
            if not events:
                return RunSummary(name, "interrupted before a call finished"
                                  if self.interrupted else "no call finished")
            heard = [e for evs in events.values() for e in evs]
            if replayable(heard):
                summary = RunSummary(name, f"one run at eot_threshold {top:g}; lower thresholds "
                                           "replayed from its Update confidences")
                for t in numbered:
                    summary.results.append(score_threshold(
                        name, t, self.truths, events, replayed=t != top))
                return summary
            if self.interrupted:
                return RunSummary(name, "interrupted before the other thresholds ran")
            say(self.env, f"{name}: its Update confidences do not move; running each "
                           "threshold separately")
            if is_paid(server.url):  # more audio than was agreed to: ask again
                seconds = sum(t.duration for t in self.truths)
                confirm(self.settings, self.env, seconds, len(numbered) - 1, name)
            rest = self._run(server, [t for t in numbered if t != top], self.truths)
            rest[top] = events
            by_threshold = rest
        else:
            by_threshold = self._run(server, thresholds, self.truths)
        summary = RunSummary(name, "one run per threshold")
        for asked in thresholds:
            summary.results.append(
                score_threshold(name, asked, self.truths, by_threshold[asked]))
        return summary
