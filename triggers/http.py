"""The ``api`` function: synchronous predict, warm-up and health, with CORS.

| request | answer |
|---|---|
| ``GET/POST /?name=<object>`` or ``/predict``, or a JSON body ``{"name": ...}`` | the result JSON |
| ``GET/POST /warmup`` or ``?warmup=1`` (``&app=<name>`` to warm one app) | the apps loaded |
| ``GET /healthz`` | liveness |

Errors are ``{"error": {"code", "message"}}`` with a real status. CORS answers
only origins listed in ``TRIBUTARY_CORS_ORIGINS`` (exact matches; no wildcard),
echoing the origin itself, never ``*``.
"""

from __future__ import annotations

from collections.abc import Callable

import flask

from tributary.apps import REGISTRY
from tributary.backend import Backend
from tributary.errors import PermanentError, TributaryError
from tributary.functions import RUNTIME, error_response, json_response
from triggers import predict
from triggers.auth import Authenticator, DevAuth, FirebaseAuth

_STATUS_BY_CODE = {
    "unauthenticated": 401,
    "forbidden": 403,
    "not_found": 404,
    "method_not_allowed": 405,
    "too_large": 413,
    "model_unavailable": 503,
}
_TRUE = {"1", "true", "yes"}
_METHODS = "GET, POST, OPTIONS"
_ALLOWED_HEADERS = "Authorization, Content-Type"
_PREFLIGHT_MAX_AGE_S = "3600"

Route = Callable[[flask.Request, Backend], flask.Response]


def handle(request: flask.Request) -> flask.Response:
    """Route one request; add CORS headers for an allowed origin."""
    backend = RUNTIME.backend()
    origin = request.headers.get("Origin")
    allowed = origin is not None and origin in backend.settings.cors_origins
    if request.method == "OPTIONS":
        response = _preflight(allowed)
    else:
        try:
            response = _route(request)(request, backend)
        except TributaryError as exc:
            response = error_response(exc, _STATUS_BY_CODE.get(exc.code, 400))
    if allowed and origin is not None:
        response.headers["Access-Control-Allow-Origin"] = origin
    response.headers.add("Vary", "Origin")
    return response


def _route(request: flask.Request) -> Route:
    if request.args.get("warmup", "").lower() in _TRUE:
        return _warmup
    path = "/" + request.path.strip("/")
    route = _ROUTES.get(path)
    if route is None:
        raise PermanentError(f"no such endpoint {path!r}", code="not_found")
    if request.method not in _ROUTE_METHODS[path]:
        raise PermanentError(
            f"{request.method} is not allowed on {path}; use {' or '.join(_ROUTE_METHODS[path])}",
            code="method_not_allowed",
        )
    return route


def _predict(request: flask.Request, backend: Backend) -> flask.Response:
    body = request.get_json(silent=True) if request.method == "POST" else None
    name = request.args.get("name") or (body.get("name") if isinstance(body, dict) else None)
    if not isinstance(name, str) or not name:
        raise PermanentError(
            "name the uploaded object: ?name=uploads/<uid>/<app>/<job-id>.<ext> or"
            ' a JSON body {"name": ...}',
            code="invalid_input",
        )
    uid = authenticator(backend).uid(request)
    return json_response(predict.predict(backend, name, uid), 200)


def _warmup(request: flask.Request, backend: Backend) -> flask.Response:
    wanted = request.args.getlist("app")
    unknown = [name for name in wanted if name not in REGISTRY]
    if unknown:
        raise PermanentError(f"unknown app {unknown[0]!r}", code="unknown_app")
    return json_response(predict.warm(backend, wanted or None), 200)


def _health(_request: flask.Request, backend: Backend) -> flask.Response:
    return json_response({"status": "ok", "backend": backend.settings.backend}, 200)


def _preflight(allowed: bool) -> flask.Response:
    if not allowed:
        return error_response(
            PermanentError("this origin is not allowed", code="origin_not_allowed"), 403
        )
    response = flask.make_response("", 204)
    response.headers["Access-Control-Allow-Methods"] = _METHODS
    response.headers["Access-Control-Allow-Headers"] = _ALLOWED_HEADERS
    response.headers["Access-Control-Max-Age"] = _PREFLIGHT_MAX_AGE_S
    return response


def authenticator(backend: Backend) -> Authenticator:
    """Firebase ID tokens on Google Cloud; the explicit development mode locally."""
    if backend.settings.backend == "local":
        return DevAuth()
    project = backend.settings.gcp_project
    verifier = _VERIFIERS.get(project)
    if verifier is None:
        # One per project and process: it keeps its HTTP transport for the key fetches.
        verifier = _VERIFIERS.setdefault(project, FirebaseAuth(project))
    return verifier


_VERIFIERS: dict[str, FirebaseAuth] = {}


_ROUTES: dict[str, Route] = {
    "/": _predict,
    "/predict": _predict,
    "/warmup": _warmup,
    "/healthz": _health,
}
_ROUTE_METHODS: dict[str, tuple[str, ...]] = {
    "/": ("GET", "POST"),
    "/predict": ("GET", "POST"),
    "/warmup": ("GET", "POST"),
    "/healthz": ("GET",),
}
