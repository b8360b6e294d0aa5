"""The ``api`` function: the HTTP API of :mod:`tributary.web`, as the local stack serves it.

Jobs (upload, resumable upload, query, read, list, event stream, result files),
the original service's synchronous predict (``/`` and ``/predict`` with
``?name=``), warm-up (``/warmup``, ``/v1/warmup`` or ``?warmup=1``), health and
the OpenAPI document; ``schemas/openapi.json`` lists every route. Callers send a
Firebase ID token (``TRIBUTARY_AUTH=firebase``, the default). CORS answers only
the origins of ``TRIBUTARY_CORS_ORIGINS``.
"""

from __future__ import annotations

import io
import threading

import flask

from tributary.backend import Backend
from tributary.functions import RUNTIME
from tributary.web import create_app

_lock = threading.Lock()
_apps: dict[int, tuple[Backend, flask.Flask]] = {}


def handle(request: flask.Request) -> flask.Response:
    """Dispatch one request to the shared API app of this process's backend."""
    app = _app(RUNTIME.backend())
    # The Functions Framework may have read the body already: hand it on afresh.
    body = request.get_data(cache=True)
    environ = {**request.environ, "wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body))}
    with app.request_context(environ):
        return app.full_dispatch_request()


def _app(backend: Backend) -> flask.Flask:
    # One app per opened backend (tests reopen the runtime with new settings).
    with _lock:
        entry = _apps.get(id(backend))
        if entry is None or entry[0] is not backend:
            _apps.clear()
            entry = (backend, create_app(backend))
            _apps[id(backend)] = entry
        return entry[1]
