"""``flux transcribe``: which runner a set of inputs and flags goes to.

One input streams on its own (``single``), several share a pool (``batch``), and one input's
channels stream side by side (``channels``). Each runner imports only the set-up it needs.
"""

from __future__ import annotations

from collections.abc import Sequence

from flux_cli.env import Env
from flux_cli.errors import UsageError
from flux_cli.transcribe.settings import TranscribeSettings


def run_many(
    settings: TranscribeSettings,
    sources: Sequence[str],
    env: Env,
    *,
    jobs: int = 1,
    multichannel: bool = False,
    channel_names: str | None = None,
) -> int:
    """One input, several (``batch``), or one input's channels (``multichannel``)."""
    if jobs < 1:
        raise UsageError(f"--jobs must be 1 or more, got {jobs}")
    if settings.url is None:
        from flux_cli.transcribe.setup import refuse_unservable_model

        refuse_unservable_model(settings)
    if multichannel:
        from flux_cli.transcribe import channels as multi

        if len(sources) != 1:
            raise UsageError("--multichannel takes one input")
        return multi.run(settings, multi.parse_names(channel_names), env)
    if channel_names is not None:
        raise UsageError("--channel-names names the channels of --multichannel")
    if len(sources) > 1:
        from flux_cli.transcribe import batch

        return batch.run(settings, sources, jobs, env)
    from flux_cli.transcribe import single

    return single.run(settings, env)
