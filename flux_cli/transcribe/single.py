"""``flux transcribe`` as a library call: settings in, exit code out (or a FluxError).

Order matters and is deliberate: check every flag, open the input and read its first frame,
and only then start a local engine or connect, so bad input never costs a connection.
Whatever way the stream ends, what was received is shown before the error is raised.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from flux_cli.client.shell import Session
from flux_cli.env import Env
from flux_cli.errors import INTERRUPTED_EXIT_CODE
from flux_cli.render.display import Display, Output
from flux_cli.render.plain import PlainOutput
from flux_cli.render.summary import end_of_run_line
from flux_cli.transcribe.settings import TranscribeSettings, resolve_output, stream_url
from flux_cli.transcribe.setup import (
    build_feed,
    caption_outputs,
    check_outcome,
    open_log,
    server_base,
    status,
    status_line,
)
from flux_cli.transcribe.targets import per_input_targets

if TYPE_CHECKING:
    from flux_cli.transcribe.keys import KeyPanel

SUMMARISED = ("live", "text")  # modes that end with a summary line on stderr


def _outputs(settings: TranscribeSettings, env: Env, host: str, source: Any) -> list[Output]:
    mode = resolve_output(settings.output, settings.jsonl, env.stdout_isatty)
    if mode == "none":
        return []
    if mode in ("text", "json"):
        return [PlainOutput(env.stdout, env.stderr, as_json=mode == "json")]
    from flux_cli.render.live import LiveOutput, PanelInfo

    params = settings.params
    info = PanelInfo(
        host=host,
        source=settings.source if settings.source != "-" else "stdin",
        duration_s=source.duration_s,
        eot_threshold=params.effective_eot_threshold,
        eager_eot_threshold=params.eager_eot_threshold,
    )
    return [LiveOutput.on_stream(env.stdout, info)]


def run(settings: TranscribeSettings, env: Env) -> int:
    """Stream one input and show the turns; 0 or 130, or raise a FluxError."""
    from flux_cli.audio import open_source

    settings.validate()
    settings = per_input_targets(settings)
    with contextlib.ExitStack() as stack:
        log = open_log(settings.jsonl, env, stack)
        captions = caption_outputs(settings, stack)
        source = open_source(
            settings.source,
            raw=settings.raw if settings.raw.is_set else None,
            channel=settings.channel,
            stdin=env.stdin,
            notice=lambda text: status(env, text),
        )
        stack.callback(source.close)
        settings = settings.at_input_rate(source.sample_rate)
        feed = build_feed(source, settings)
        base = server_base(settings, env, stack)
        url = stream_url(base, settings.params)
        from urllib.parse import urlsplit

        outputs = _outputs(settings, env, urlsplit(url).netloc, source)
        display = Display([*outputs, *captions], log)
        session = Session(
            url,
            feed,
            display,
            api_key=settings.api_key if settings.url is not None else None,
            force_end_turn_at_close=settings.force_end_turn,
            params=settings.params,
            reconnect=settings.reconnect,
        )
        keys = _keys(session, display, outputs, settings, env)
        try:
            outcome = session.run()
        finally:
            if keys is not None:
                keys.stop()
            display.close()
        interrupted = check_outcome(outcome)  # a failed stream ends on its one error line
        if resolve_output(settings.output, settings.jsonl, env.stdout_isatty) in SUMMARISED:
            state = display.state
            status_line(env, end_of_run_line(state.turns, state.audio_sent_s))
        if interrupted:
            return INTERRUPTED_EXIT_CODE
        _hint_if_nothing_heard(display, env)
    return 0


def _keys(
    session: Session,
    display: Display,
    outputs: Sequence[Output],
    settings: TranscribeSettings,
    env: Env,
) -> KeyPanel | None:
    """Keys for the live panel in a real terminal (``keys``); None anywhere else."""
    from flux_cli.render.live import LiveOutput

    panels = [o for o in outputs if isinstance(o, LiveOutput)]
    if not panels or not env.stdout_isatty:
        return None
    from flux_cli.transcribe import keys

    params = settings.params
    reader = keys.attach(
        session,
        lambda: display.state,
        session.finish,
        params.effective_eot_threshold,
        params.eager_eot_threshold,
    )
    if reader is not None:
        panels[0].footer = lambda: reader.footer
    return reader


def _hint_if_nothing_heard(display: Display, env: Env) -> None:
    """A clean end with no words at all is most often silent input or the wrong channel."""
    if any(turn.transcript.strip() for turn in display.state.turns):
        return
    status(
        env,
        f"no speech recognised in {display.state.audio_sent_s:.1f} s of audio; is the input "
        "silent or only noise? (check the recording level, or pick a --channel)",
    )
