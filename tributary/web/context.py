"""What every route of the HTTP API shares: the backend, who calls, and the rate limit."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path

import flask

from tributary.backend import Backend
from tributary.errors import ConfigError, PermanentError
from tributary.logs import event
from tributary.web.auth import Authenticator, DevAuth, FirebaseAuth
from tributary.web.ratelimit import RateLimiter

_log = logging.getLogger("tributary.api")


class RateLimited(PermanentError):
    code = "rate_limited"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def make_authenticator(backend: Backend) -> Authenticator:
    """``TRIBUTARY_AUTH``: Firebase ID tokens, or the explicit development mode."""
    settings = backend.settings
    if settings.auth == "dev":
        return DevAuth()
    if not settings.gcp_project:
        raise ConfigError("verifying Firebase ID tokens needs TRIBUTARY_GCP_PROJECT")
    return FirebaseAuth(settings.gcp_project)


@dataclass
class ApiContext:
    """One per Flask app: the backend it serves and the state of its edge."""

    backend: Backend
    limiter: RateLimiter
    # The web client's directory, served at / (the local stack), or None (the function).
    frontend_dir: Path | None = None
    _authenticator: Authenticator | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def uid(self) -> str:
        """The caller's user id (401 ``unauthenticated`` if it cannot be established)."""
        with self._lock:
            if self._authenticator is None:
                self._authenticator = make_authenticator(self.backend)
            authenticator = self._authenticator
        return authenticator.uid(flask.request)

    def caller(self, *, limited: bool = True) -> str:
        """The caller's user id, after spending one token of their rate limit."""
        uid = self.uid()
        wait = self.limiter.take(uid) if limited else 0
        if wait:
            event(_log, "api_rate_limited", logging.WARNING, uid=uid, retry_after=wait)
            raise RateLimited(f"too many requests; try again in {wait} s", retry_after=wait)
        return uid


def api_context() -> ApiContext:
    context: ApiContext = flask.current_app.extensions["tributary"]
    return context
