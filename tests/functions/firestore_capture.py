"""Capture what the Firestore emulator sends a function when a document is created.

The emulator delivers document triggers to a "functions emulator" host given at
start-up (``--functions_emulator``), for triggers registered through its REST
API. Here that host is a small HTTP server on 127.0.0.1 that records the first
request it receives; the emulator and the server are stopped before returning.
"""

from __future__ import annotations

import json
import queue
import threading
import urllib.request
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tributary import emulators

CLASS = "com.google.cloud.datastore.emulator.firestore.CloudFirestore"


@dataclass(frozen=True)
class Delivery:
    path: str
    headers: dict[str, str]
    body: bytes


def capture_created(
    project: str, collection: str, document_id: str, fields: dict[str, Any], log_dir: Path
) -> Delivery:
    """Create ``collection/document_id`` with ``fields`` (REST form); the delivery it causes."""
    received: queue.Queue[Delivery] = queue.Queue()

    class Recorder(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            received.put(Delivery(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    port = emulators.free_port()
    jar = str(emulators.SDK_ROOT / emulators.FIRESTORE_JAR)
    command = ["java", "-Duser.language=en", "-Xmx512m", "-cp", jar, CLASS]
    command += ["--host", "127.0.0.1", "--port", str(port), "--project_id", project]
    command += ["--functions_emulator", f"127.0.0.1:{server.server_address[1]}"]
    log_dir.mkdir(parents=True, exist_ok=True)
    emulator = emulators.Emulator(
        "firestore-triggers", command, port=port, ready_path="/", env={}, log_dir=log_dir
    )
    try:
        emulator.wait_ready()
        base = f"http://{emulator.host_port}"
        _call(
            f"{base}/emulator/v1/projects/{project}/eventarcTrigger?eventarcTriggerId=on_query",
            {
                "eventType": "google.cloud.firestore.document.v1.created",
                "database": "(default)",
                "namespace": "(default)",
                "document": {"value": f"{collection}/{{job_id}}", "matchType": "PATH_PATTERN"},
            },
        )
        _call(
            f"{base}/v1/projects/{project}/databases/(default)/documents/{collection}"
            f"?documentId={document_id}",
            {"fields": fields},
        )
        return received.get(timeout=30)
    finally:
        emulator.stop()
        server.shutdown()
        server.server_close()


def _call(url: str, body: dict[str, Any]) -> None:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        # "owner" is the emulator's admin credential: no security rules apply.
        headers={"Content-Type": "application/json", "Authorization": "Bearer owner"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        response.read()
