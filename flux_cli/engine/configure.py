"""``Configure`` mid-stream: the new parameters and the reply, checked as a query string is.

One rule for both sides (``StreamParams.configured``); on any error nothing changes and the
stream goes on with a ``ConfigureFailure``.
"""

from __future__ import annotations

from flux_cli.protocol import (
    MULTILINGUAL_MODEL,
    Configure,
    ConfigureFailure,
    ConfigureSuccess,
    ParamError,
    StreamParams,
)


def active_config(params: StreamParams) -> dict[str, float | int | None]:
    """The thresholds in force, as ``ConfigureSuccess`` reports them (defaults filled in)."""
    return {
        "eot_threshold": params.effective_eot_threshold,
        "eager_eot_threshold": params.eager_eot_threshold,
        "eot_timeout_ms": params.effective_eot_timeout_ms,
    }


def reconfigured(
    params: StreamParams, message: Configure, request_id: str, sequence_id: int
) -> tuple[StreamParams, ConfigureSuccess | ConfigureFailure]:
    """The parameters after ``message`` (unchanged on failure) and the reply to send."""
    try:
        updated = params.configured(message)
    except ParamError as exc:
        failure = ConfigureFailure(
            request_id=request_id,
            sequence_id=sequence_id,
            code="INVALID_CONFIGURATION",
            description=str(exc),
        )
        return params, failure
    success = ConfigureSuccess(
        request_id=request_id,
        sequence_id=sequence_id,
        thresholds=active_config(updated),
        keyterms=list(updated.keyterm),
        language_hints=(list(updated.language_hint) if updated.model == MULTILINGUAL_MODEL
                        else None),
    )
    return updated, success
