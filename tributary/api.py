"""The HTTP API of the local stack: create jobs, read them, health.

Errors are JSON ``{"error": {"code", "message"}}`` with a real HTTP status,
never a 200. Authentication here is the explicit local development mode: the
caller's user id comes from the ``X-Dev-User`` header (default ``local``).
"""

from __future__ import annotations

import threading
from typing import Any

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.serving import BaseWSGIServer, make_server

from tributary import client, jobs
from tributary.apps import REGISTRY, get_app
from tributary.backend import Backend
from tributary.errors import NotFound, PermanentError, TributaryError
from tributary.topology import JOBS_COLLECTION

_STATUS_BY_CODE = {"not_found": 404, "unknown_app": 400, "too_large": 413, "already_exists": 409}


def _error(code: str, message: str, status: int) -> tuple[Any, int]:
    return jsonify({"error": {"code": code, "message": message}}), status


def create_app(backend: Backend) -> Flask:
    settings = backend.settings
    app = Flask(__name__)
    # Multipart overhead on top of the file itself; the worker checks the file again.
    app.config["MAX_CONTENT_LENGTH"] = settings.max_upload_bytes + 64 * 1024

    def uid() -> str:
        return request.headers.get("X-Dev-User", "local")

    @app.errorhandler(TributaryError)
    def _tributary_error(exc: TributaryError) -> tuple[Any, int]:
        return _error(exc.code, exc.message, _STATUS_BY_CODE.get(exc.code, 400))

    @app.errorhandler(RequestEntityTooLarge)
    def _too_large(_exc: RequestEntityTooLarge) -> tuple[Any, int]:
        limit = settings.max_upload_bytes
        return _error("too_large", f"uploads are limited to {limit} bytes", 413)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> tuple[Any, int]:
        return _error(
            exc.name.lower().replace(" ", "_"), exc.description or exc.name, exc.code or 500
        )

    @app.get("/healthz")
    def health() -> Any:
        return jsonify({"status": "ok", "backend": settings.backend, "apps": sorted(REGISTRY)})

    @app.route("/v1/warmup", methods=["GET", "POST"])
    def warmup() -> Any:
        """Load the models now (the page calls this before the user types)."""
        names = [request.args["app"]] if request.args.get("app") else sorted(REGISTRY)
        warmed = {}
        for name in names:
            _require_app(name)
            app_instance = get_app(name, settings)
            app_instance.warm()
            warmed[name] = app_instance.model_info().version
        return jsonify({"warmed": warmed})

    @app.post("/v1/jobs")
    def create_job() -> tuple[Any, int]:
        if request.files:
            upload = request.files.get("file")
            app_name = request.form.get("app", "")
            if upload is None:
                raise PermanentError("multipart uploads carry the file in the 'file' field")
            _require_app(app_name)
            job_id = client.submit_file(
                backend,
                upload.read(),
                app=app_name,
                filename=upload.filename or "upload.bin",
                uid=uid(),
                content_type=upload.mimetype,
            )
        else:
            body = request.get_json(silent=True) or {}
            app_name = str(body.get("app", ""))
            _require_app(app_name)
            job_id = client.submit_text(backend, str(body.get("text", "")), app=app_name, uid=uid())
        return jsonify({"job_id": job_id, "url": f"/v1/jobs/{job_id}"}), 202

    @app.get("/v1/jobs/<job_id>")
    def get_job(job_id: str) -> Any:
        document = (
            backend.documents.get(jobs.job_path(job_id)) if jobs.is_valid_job_id(job_id) else None
        )
        if document is None or document.get("owner") not in (None, uid()):
            raise NotFound(f"no job {job_id}")
        return jsonify(document)

    @app.get("/v1/jobs")
    def list_jobs() -> Any:
        limit = min(int(request.args.get("limit", "20")), 200)
        rows = backend.documents.query(
            JOBS_COLLECTION,
            where=[("owner", "==", uid())],
            order_by="created_at",
            descending=True,
            limit=limit,
        )
        return jsonify({"jobs": [doc for _id, doc in rows]})

    return app


def _require_app(name: str) -> None:
    if name not in REGISTRY:
        raise PermanentError(
            f"unknown app {name!r}; registered apps: {', '.join(sorted(REGISTRY))}",
            code="unknown_app",
        )


class ApiServer:
    """The API on a background thread; ``port=0`` picks a free port."""

    def __init__(self, backend: Backend, host: str, port: int) -> None:
        self._server: BaseWSGIServer = make_server(host, port, create_app(backend), threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, name="api", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> ApiServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
