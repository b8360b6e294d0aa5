"""One exception hierarchy: every failure a user can see has a stable code.

Permanent errors (bad input, unknown app) fail a job at once; transient errors
(a backend unavailable, a timeout) are retried with backoff. Anything else that
escapes a stage is treated as transient and, once retries run out, reported as
``exhausted_retries`` with the last error's message, never a traceback.
"""

from __future__ import annotations

from typing import Any


class TributaryError(Exception):
    """Base of every error Tributary raises on purpose."""

    code: str = "internal_error"
    retryable: bool = False

    def __init__(self, message: str, *, code: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "retryable": self.retryable}


class PermanentError(TributaryError):
    """The input or request can never succeed: fail now, do not retry."""

    code = "invalid_input"
    retryable = False


class TransientError(TributaryError):
    """Might succeed later: leave the message unacknowledged so it comes back."""

    code = "unavailable"
    retryable = True


class ConfigError(TributaryError):
    """The environment or a command line asks for something impossible."""

    code = "config_error"


class NotFound(TributaryError):
    """A job, blob or document that was asked for does not exist."""

    code = "not_found"


# Codes a job can fail with. Kept here so docs, clients and tests share one list.
ERROR_CODES: dict[str, str] = {
    "unknown_app": "No app of that name is registered.",
    "invalid_object_name": "The uploaded object's name does not follow uploads/<uid>/<app>/<job-id>.<ext>.",
    "invalid_input": "The job's input is not what the app accepts.",
    "input_missing": "The uploaded object no longer exists.",
    "unsupported_media": "The file is not audio in a format we can read.",
    "corrupt_media": "The file could not be decoded; it may be damaged or truncated.",
    "no_audio_stream": "The file has no audio track.",
    "empty_input": "The file is empty.",
    "too_large": "The file is larger than the upload limit.",
    "too_long": "The recording is longer than the maximum duration.",
    "too_short": "The recording is shorter than the minimum duration.",
    "silent_audio": "The recording is silent.",
    "empty_query": "The query is empty.",
    "query_too_long": "The query is longer than the maximum length.",
    "model_unavailable": "The model is not built or could not be loaded.",
    "exhausted_retries": "The job failed repeatedly with a temporary error and was given up.",
    "stuck": "The job stopped making progress and was given up.",
    "internal_error": "An unexpected error occurred.",
}

# Codes the HTTP and event edges answer with (never a job's error).
EDGE_ERROR_CODES: dict[str, str] = {
    "unexpected_event_type": "The function received an event of a type it does not handle.",
    "malformed_event": "The event could not be decoded.",
    "unauthenticated": "The request carries no valid Firebase ID token.",
    "forbidden": "The caller may not touch that object or job.",
    "origin_not_allowed": "The request's origin is not in the CORS allowlist.",
    "method_not_allowed": "The endpoint does not accept that HTTP method.",
    "not_found": "No such job, object or dead letter.",
    "already_exists": "A job with that id exists already.",
    "already_requeued": "That dead letter was requeued already.",
}
