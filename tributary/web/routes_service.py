"""Service routes: health, warm-up, the synchronous predict, the OpenAPI document,
the page's configuration and the web client's files."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import flask

from tributary.apps import REGISTRY
from tributary.errors import EDGE_ERROR_CODES, ERROR_CODES, PermanentError
from tributary.web import predict
from tributary.web.context import api_context
from tributary.web.replies import json_reply

OPENAPI_PATH = Path(__file__).resolve().parents[2] / "schemas" / "openapi.json"
# The web client's files the API serves (the page, its modules, its styles, the bundle).
_FRONTEND_SUFFIXES = frozenset({".html", ".js", ".css", ".svg"})
_FRONTEND_CONTENT_TYPES = {".js": "text/javascript; charset=utf-8"}
# Messages for the codes only the web client's edge produces.
CLIENT_ERROR_CODES: dict[str, str] = {
    "rate_limited": "Too many requests; wait a moment and try again.",
    "upload_conflict": "The upload was interrupted; start it again.",
    "request_entity_too_large": ERROR_CODES["too_large"],
}


def register(app: flask.Flask) -> None:
    app.add_url_rule("/healthz", view_func=health, methods=["GET"])
    app.add_url_rule("/v1/warmup", view_func=warmup, methods=["GET", "POST"])
    app.add_url_rule("/warmup", endpoint="warmup_legacy", view_func=warmup, methods=["GET", "POST"])
    app.add_url_rule("/", view_func=root, methods=["GET", "POST"])
    app.add_url_rule("/predict", view_func=predict_object, methods=["GET", "POST"])
    app.add_url_rule("/v1/openapi.json", view_func=openapi, methods=["GET"])
    app.add_url_rule("/v1/config", view_func=client_config, methods=["GET"])
    app.add_url_rule("/ui/<path:filename>", view_func=frontend_file, methods=["GET"])


def health() -> flask.Response:
    return json_reply({"status": "ok", "backend": api_context().backend.settings.backend})


def warmup() -> flask.Response:
    """Load the models now (the page calls this as it loads, before the user asks)."""
    wanted = flask.request.args.getlist("app")
    unknown = [name for name in wanted if name not in REGISTRY]
    if unknown:
        raise PermanentError(f"unknown app {unknown[0]!r}", code="unknown_app")
    return json_reply(predict.warm(api_context().backend, wanted or None))


def root() -> flask.Response:
    """The web client where one is served; otherwise (and with ``?name=``) the predict."""
    frontend = api_context().frontend_dir
    if frontend is not None and flask.request.method == "GET" and "name" not in flask.request.args:
        page = _send_frontend(frontend, "index.html")
        page.headers["Content-Security-Policy"] = _page_policy()
        return page
    return predict_object()


def predict_object() -> flask.Response:
    """The original service's synchronous predict on one of the caller's uploads."""
    request = flask.request
    body = request.get_json(silent=True) if request.method == "POST" else None
    name = request.args.get("name") or (body.get("name") if isinstance(body, dict) else None)
    if not isinstance(name, str) or not name:
        raise PermanentError(
            "name the uploaded object: ?name=uploads/<uid>/<app>/<job-id>.<ext> or"
            ' a JSON body {"name": ...}',
            code="invalid_input",
        )
    context = api_context()
    return json_reply(predict.predict(context.backend, name, context.caller()))


def openapi() -> flask.Response:
    return json_reply(openapi_document())


@cache
def openapi_document() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(OPENAPI_PATH.read_text())
    return document


def client_config() -> flask.Response:
    """What the page needs to know: how to watch a job, who it is, the limits, the messages."""
    settings = api_context().backend.settings
    firestore = settings.backend == "gcp"
    config: dict[str, Any] = {
        "realtime": "firestore" if firestore else "sse",
        "auth": {"mode": settings.auth},
        "apps": sorted(REGISTRY),
        "limits": {
            "max_upload_bytes": settings.max_upload_bytes,
            "chunk_bytes": settings.upload_chunk_max_bytes,
        },
        "errors": {**ERROR_CODES, **EDGE_ERROR_CODES, **CLIENT_ERROR_CODES},
    }
    if settings.auth == "dev":
        config["auth"]["user"] = "local"
    if firestore:
        config["firebase"] = {
            "projectId": settings.gcp_project,
            "apiKey": settings.firebase_api_key or None,
            "authDomain": settings.firebase_auth_domain or None,
            "emulatorHost": settings.firestore_emulator_host or None,
        }
    return json_reply(config)


def _page_policy() -> str:
    """Only the page's own scripts and styles run; it talks to the API and to Firestore."""
    settings = api_context().backend.settings
    connect = ["'self'", "https://*.googleapis.com"]
    if settings.firestore_emulator_host:
        connect.append(f"http://{settings.firestore_emulator_host}")
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' blob: data:",
            "media-src 'self' blob:",
            f"connect-src {' '.join(connect)}",
            "object-src 'none'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
        ]
    )


def frontend_file(filename: str) -> flask.Response:
    frontend = api_context().frontend_dir
    if frontend is None or Path(filename).suffix not in _FRONTEND_SUFFIXES:
        raise PermanentError(f"no such file {filename!r}", code="not_found")
    if filename.split("/", 1)[0] == "node_modules":
        raise PermanentError(f"no such file {filename!r}", code="not_found")
    return _send_frontend(frontend, filename)


def _send_frontend(frontend: Path, filename: str) -> flask.Response:
    # send_from_directory refuses names that leave the directory.
    response = flask.send_from_directory(frontend, filename, max_age=0)
    content_type = _FRONTEND_CONTENT_TYPES.get(Path(filename).suffix)
    if content_type is not None:
        response.headers["Content-Type"] = content_type
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
