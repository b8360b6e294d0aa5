"""The HTTP API of the local stack, on a background thread.

The routes are :mod:`tributary.web`'s, the same the ``api`` Cloud Function
serves; here the web client (``frontend/``) is served at ``/`` as well.
"""

from __future__ import annotations

import threading
from pathlib import Path

from werkzeug.serving import BaseWSGIServer, make_server

from tributary.backend import Backend
from tributary.web import create_app

FRONTEND_DIR = Path(__file__).resolve().parents[1] / "frontend"

__all__ = ["FRONTEND_DIR", "ApiServer", "create_app"]


class ApiServer:
    """The API (and the web client) on a background thread; ``port=0`` picks a free port."""

    def __init__(
        self, backend: Backend, host: str, port: int, *, frontend_dir: Path | None = FRONTEND_DIR
    ) -> None:
        app = create_app(backend, frontend_dir=frontend_dir)
        self._server: BaseWSGIServer = make_server(host, port, app, threaded=True)
        # Event streams hold a thread each until their job ends; never block shutdown on them.
        self._server.daemon_threads = True
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
