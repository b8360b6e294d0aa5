"""Who is calling the HTTP API.

In production the caller proves it with a Firebase ID token
(``Authorization: Bearer <token>``), verified against Google's public keys for
the project. The development mode is explicit (``TRIBUTARY_AUTH=dev``, which
``tributary dev`` sets): the ``X-Dev-User`` header names the caller (``local``
when absent); a browser's ``EventSource``, which cannot send headers, names it
with the ``dev_user`` query parameter instead.
"""

from __future__ import annotations

import re
from typing import Any, Protocol

import flask

from tributary.errors import PermanentError

DEV_USER_HEADER = "X-Dev-User"
# The user ids object names and documents can carry.
_UID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
DEV_USER_PARAM = "dev_user"
DEV_USER_DEFAULT = "local"


class Unauthenticated(PermanentError):
    code = "unauthenticated"


class Authenticator(Protocol):
    def uid(self, request: flask.Request) -> str:
        """The caller's user id; raises Unauthenticated."""
        ...


class DevAuth:
    """Local development: trust the ``X-Dev-User`` header (or ``?dev_user=``)."""

    def uid(self, request: flask.Request) -> str:
        named = request.headers.get(DEV_USER_HEADER) or request.args.get(DEV_USER_PARAM)
        uid = named or DEV_USER_DEFAULT
        if not _UID.match(uid):
            raise Unauthenticated(f"{DEV_USER_HEADER} must match {_UID.pattern}")
        return uid


class FirebaseAuth:
    """Production: a Firebase ID token issued for ``project``."""

    def __init__(self, project: str, transport: Any = None) -> None:
        """``transport`` fetches Google's public keys (google-auth's requests transport by default)."""
        if not project:
            raise ValueError("verifying Firebase ID tokens needs the project id")
        self.project = project
        self._transport = transport

    def uid(self, request: flask.Request) -> str:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise Unauthenticated("send a Firebase ID token: 'Authorization: Bearer <token>'")
        claims = self._verify(token.strip())
        if claims.get("iss") != f"https://securetoken.google.com/{self.project}":
            raise Unauthenticated("the ID token was not issued for this project")
        uid = claims.get("sub")
        if not isinstance(uid, str) or not uid:
            raise Unauthenticated("the ID token names no user")
        return uid

    def _verify(self, token: str) -> dict[str, Any]:
        # Imported here: only production pays for google-auth and its HTTP transport.
        from google.auth import exceptions
        from google.auth.transport import requests as transport
        from google.oauth2 import id_token

        if self._transport is None:
            self._transport = transport.Request()
        try:
            claims: dict[str, Any] = id_token.verify_firebase_token(
                token, self._transport, audience=self.project
            )
        except (ValueError, exceptions.GoogleAuthError) as exc:
            raise Unauthenticated(f"invalid ID token: {exc}") from exc
        return claims
