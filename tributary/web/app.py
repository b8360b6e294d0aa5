"""The HTTP API: one Flask app for the local stack and the ``api`` Cloud Function.

Errors are ``{"error": {"code", "message"}}`` with a real status (never a 200);
the codes are those of :mod:`tributary.errors`. CORS answers only the origins of
``TRIBUTARY_CORS_ORIGINS`` (echoed back, never ``*``). The routes live in
:mod:`tributary.web.routes_jobs`, :mod:`tributary.web.routes_uploads` and
:mod:`tributary.web.routes_service`; ``schemas/openapi.json`` documents them all.
"""

from __future__ import annotations

from pathlib import Path

import flask
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from tributary.backend import Backend
from tributary.errors import TributaryError
from tributary.web import routes_jobs, routes_service, routes_uploads
from tributary.web.context import ApiContext, RateLimited
from tributary.web.ratelimit import RateLimiter
from tributary.web.replies import error_body

STATUS_BY_CODE: dict[str, int] = {
    "unauthenticated": 401,
    "forbidden": 403,
    "origin_not_allowed": 403,
    "not_found": 404,
    "method_not_allowed": 405,
    "already_exists": 409,
    "upload_conflict": 409,
    "too_large": 413,
    "unsupported_media": 415,
    "rate_limited": 429,
    "config_error": 500,
    "internal_error": 500,
    "model_unavailable": 503,
    "unavailable": 503,
}
_TRUE = {"1", "true", "yes"}
_METHODS = "GET, POST, PUT, OPTIONS"
_ALLOWED_HEADERS = "Authorization, Content-Type, Content-Range, X-Dev-User"
_EXPOSED_HEADERS = "Location, Range, Retry-After"
_PREFLIGHT_MAX_AGE_S = "3600"
# Multipart overhead on top of the file itself; the worker checks the file again.
_MULTIPART_SLACK = 64 * 1024


def create_app(backend: Backend, *, frontend_dir: Path | None = None) -> flask.Flask:
    """The API on ``backend``; with ``frontend_dir``, the web client is served at ``/`` too."""
    settings = backend.settings
    app = flask.Flask(__name__, static_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = (
        max(settings.max_upload_bytes, settings.upload_chunk_max_bytes) + _MULTIPART_SLACK
    )
    limiter = RateLimiter(settings.rate_limit_per_minute, settings.rate_limit_burst)
    app.extensions["tributary"] = ApiContext(backend, limiter, frontend_dir)
    _register_edge(app, settings.cors_origins, settings.max_upload_bytes)
    routes_service.register(app)
    routes_jobs.register(app)
    routes_uploads.register(app)
    return app


def _register_edge(app: flask.Flask, origins: tuple[str, ...], upload_limit: int) -> None:
    @app.before_request
    def _preflight_and_warmup() -> flask.Response | None:
        if flask.request.method == "OPTIONS":
            return _preflight(_allowed_origin(origins) is not None)
        if flask.request.args.get("warmup", "").lower() in _TRUE:
            # The original service's form: ?warmup=1 on any path.
            return routes_service.warmup()
        return None

    @app.after_request
    def _cors(response: flask.Response) -> flask.Response:
        origin = _allowed_origin(origins)
        if origin is not None:
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Expose-Headers"] = _EXPOSED_HEADERS
        response.headers.add("Vary", "Origin")
        return response

    @app.errorhandler(TributaryError)
    def _tributary_error(exc: TributaryError) -> flask.Response:
        response = error_body(exc.code, exc.message, STATUS_BY_CODE.get(exc.code, 400))
        if isinstance(exc, RateLimited):
            response.headers["Retry-After"] = str(exc.retry_after)
        return response

    @app.errorhandler(RequestEntityTooLarge)
    def _too_large(_exc: RequestEntityTooLarge) -> flask.Response:
        return error_body("too_large", f"uploads are limited to {upload_limit} bytes", 413)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> flask.Response:
        code = (exc.name or "error").lower().replace(" ", "_")
        return error_body(code, exc.description or exc.name, exc.code or 500)


def _allowed_origin(origins: tuple[str, ...]) -> str | None:
    origin = flask.request.headers.get("Origin")
    return origin if origin is not None and origin in origins else None


def _preflight(allowed: bool) -> flask.Response:
    if not allowed:
        return error_body("origin_not_allowed", "this origin is not allowed", 403)
    response = flask.make_response("", 204)
    response.headers["Access-Control-Allow-Methods"] = _METHODS
    response.headers["Access-Control-Allow-Headers"] = _ALLOWED_HEADERS
    response.headers["Access-Control-Max-Age"] = _PREFLIGHT_MAX_AGE_S
    return response
