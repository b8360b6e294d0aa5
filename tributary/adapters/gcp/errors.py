"""Google API errors become Tributary errors at the adapter's edge.

Unavailable backends and timeouts are transient (the message comes back and is
retried); a missing resource is ``NotFound``; a request the service refuses
(bad argument, permission) is a configuration problem that no retry fixes.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from google.api_core import exceptions as api

from tributary.errors import ConfigError, NotFound, TransientError, TributaryError

_TRANSIENT = (
    api.ServiceUnavailable,
    api.DeadlineExceeded,
    api.InternalServerError,
    api.Aborted,
    api.TooManyRequests,
    api.BadGateway,
    api.GatewayTimeout,
    api.RetryError,
)
_REFUSED = (
    api.InvalidArgument,
    api.BadRequest,
    api.FailedPrecondition,
    api.PermissionDenied,
    api.Forbidden,
    api.Unauthenticated,
    api.Unauthorized,
)


class Contention(TransientError):
    """A transaction lost a race with another writer; retrying it will do."""

    code = "contention"


def translate(exc: BaseException, what: str) -> TributaryError | None:
    """The Tributary error for a Google API (or connection) error, or None if it is neither."""
    if isinstance(exc, api.NotFound):
        return NotFound(f"{what}: not found ({exc.message})")
    if isinstance(exc, api.Aborted):
        return Contention(f"{what}: aborted by a concurrent transaction ({exc.message})")
    if isinstance(exc, _TRANSIENT):
        return TransientError(f"{what}: service unavailable ({exc})")
    if isinstance(exc, _REFUSED):
        return ConfigError(f"{what}: refused by the service ({exc})")
    if isinstance(exc, ConnectionError | TimeoutError) or _is_requests_connection_error(exc):
        return TransientError(f"{what}: cannot reach the service ({exc})")
    return None


@contextmanager
def translated(what: str) -> Iterator[None]:
    """Re-raise Google API errors inside the block as Tributary errors."""
    try:
        yield
    except TributaryError:
        raise
    except Exception as exc:
        mapped = translate(exc, what)
        if mapped is None:
            raise
        raise mapped from exc


def _is_requests_connection_error(exc: BaseException) -> bool:
    # The storage client talks HTTP through requests; an emulator or network that is
    # down surfaces as requests' ConnectionError/Timeout, which are not builtins.
    import requests

    return isinstance(exc, requests.ConnectionError | requests.Timeout)
