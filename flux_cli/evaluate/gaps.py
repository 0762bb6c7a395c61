"""Holds and shifts from who spoke when: the speaker's speech against the other party's.

The rule (``GapRule``), for each silence on the speaker's side (a gap shorter than
``min_pause_s`` is not a silence: words run on):

- Nobody else speaks in it and the speaker goes on: a **hold**.
- The other party starts speaking in it (or was already speaking when the speaker
  stopped: an overlap) and says more than a backchannel: a **shift**; the agent's
  response time is its first sound minus the speaker's last.
- The other party says something short (at most ``backchannel_max_s``) and the speaker
  goes on no later than ``backchannel_resume_s`` after it: a **backchannel**; the speaker
  kept the floor, so it is a hold (marked, and counted apart).
- The silence at the end of the call is a shift if someone answers in it, or if it lasts
  ``final_silence_s`` (the call simply ended after the speaker's last turn); shorter, it
  is not scored: a server cannot be blamed for a turn end the recording cut off.

Other-party speech that starts and ends while the speaker talks is an overlap: counted,
not scored (the speaker never paused).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from flux_cli.evaluate.activity import close_gaps
from flux_cli.evaluate.truth import CallTruth, Hold, Segment, Shift


@dataclass(frozen=True)
class GapRule:
    min_pause_s: float = 0.2
    backchannel_max_s: float = 1.0
    backchannel_resume_s: float = 0.5
    final_silence_s: float = 2.0

    def describe(self) -> str:
        return (
            f"silences of {self.min_pause_s:g} s or more on the speaker's channel; a hold when "
            "the speaker goes on with nobody else speaking, a shift when the other channel "
            f"answers; other speech of at most {self.backchannel_max_s:g} s with the speaker "
            f"back within {self.backchannel_resume_s:g} s is a backchannel (a hold)"
        )


DEFAULT_GAP_RULE = GapRule()


def _utterance(others: Sequence[Segment], index: int, join_s: float) -> Segment:
    """The other party's utterance around ``others[index]``, its short silences joined."""
    start, end = others[index]
    for a, b in reversed(others[:index]):
        if start - b >= join_s:
            break
        start = min(start, a)
    for a, b in others[index + 1:]:
        if a - end >= join_s:
            break
        end = max(end, b)
    return start, end


def derive(
    name: str,
    speaker: Sequence[Segment],
    others: Sequence[Segment],
    duration: float,
    rule: GapRule = DEFAULT_GAP_RULE,
    method: str = "",
    *,
    mixed: bool = False,
) -> CallTruth:
    """Holds and shifts of the speaker.

    ``mixed``: the streamed audio holds the other party too (a mono recording with labels),
    so the server hears the answer start: a turn end reported after it is too late.
    """
    spoken = close_gaps(sorted(speaker), rule.min_pause_s)
    heard = sorted(others)
    truth = CallTruth(name=name, duration=duration, speech=spoken, method=method)
    truth.overlaps = sum(
        1 for a, b in close_gaps(heard, rule.min_pause_s)
        if any(s <= a and b <= e for s, e in spoken)
    )
    for i, (_start, stop) in enumerate(spoken):
        last = i + 1 == len(spoken)
        resume = duration if last else spoken[i + 1][0]
        first = next(
            (j for j, (a, b) in enumerate(heard) if a < resume and b > stop), None
        )
        if first is None:
            if not last:
                truth.holds.append(Hold(stop, resume))
            elif duration - stop >= rule.final_silence_s:
                truth.shifts.append(Shift(stop, None, duration))
            continue
        a, b = _utterance(heard, first, rule.min_pause_s)
        short = b - a <= rule.backchannel_max_s
        if not last and short and resume <= b + rule.backchannel_resume_s:
            truth.holds.append(Hold(stop, resume, backchannel=True))
        else:
            limit = min(resume, max(a, stop)) if mixed else resume
            truth.shifts.append(Shift(stop, a, limit))
    return truth
