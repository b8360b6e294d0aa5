"""The Firestore trigger bridge of the emulator stack: query documents reach ``on_query``.

The Firestore emulator delivers document triggers only to a host named when it
starts (``--functions_emulator``), which :class:`tributary.emulators.EmulatorStack`
does not set. Instead the gcp adapter publishes a document-created message on
``tributary-queries``; its push subscription points here, and :class:`QueryRelay`
re-sends each one to ``on_query`` in the emulator's own trigger form (a binary-mode
CloudEvent whose body is the base64-encoded ``DocumentEventData``).
"""

from __future__ import annotations

import base64
import contextlib
import json
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from google.events.cloud.firestore_v1 import DocumentEventData
from google.protobuf import json_format


class QueryRelay:
    """Re-sends the adapter's document-created messages to ``on_query`` as the emulator would."""

    def __init__(self, target: str, project: str) -> None:
        relay = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                status = relay.forward(body)
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self._target, self._project = target, project
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def forward(self, body: bytes) -> int:
        """POST the translated event (or, if untranslatable, the push as is); on_query's status."""
        headers, data = {"Content-Type": "application/json"}, body
        # Untranslatable: on_query rejects it, as it would any malformed event.
        with contextlib.suppress(ValueError, KeyError, TypeError, json_format.ParseError):
            headers, data = _document_created(json.loads(body), self._project)
        request = urllib.request.Request(self._target, data=data, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                return int(response.status)
        except urllib.error.HTTPError as exc:
            return int(exc.code)
        except (urllib.error.URLError, OSError):
            return 502

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _document_created(push: dict[str, Any], project: str) -> tuple[dict[str, str], bytes]:
    """The Firestore emulator's trigger request for the bridge message in a push envelope."""
    message = push["message"]
    created = json.loads(base64.b64decode(message["data"]))
    path, document = created["path"], created["document"]
    database = f"projects/{project}/databases/(default)"
    event = DocumentEventData.pb()()
    json_format.ParseDict(
        {
            "value": {
                "name": f"{database}/documents/{path}",
                "fields": _value(document)["mapValue"]["fields"],
            }
        },
        event,
    )
    headers = {
        "ce-specversion": "1.0",
        "ce-type": "google.cloud.firestore.document.v1.created",
        "ce-source": f"//firestore.googleapis.com/{database}",
        "ce-id": str(message.get("messageId", "")),
        "ce-subject": f"documents/{path}",
        "ce-time": str(message.get("publishTime", "")),
        "ce-document": path,
        "content-type": "application/protobuf",
    }
    return headers, base64.b64encode(event.SerializeToString())


def _value(value: Any) -> dict[str, Any]:
    """A JSON value as a Firestore ``Value`` in its JSON form."""
    if value is None:
        return {"nullValue": None}
    if isinstance(value, bool):
        return {"booleanValue": value}
    if isinstance(value, int):
        return {"integerValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, str):
        return {"stringValue": value}
    if isinstance(value, list):
        return {"arrayValue": {"values": [_value(item) for item in value]}}
    return {"mapValue": {"fields": {k: _value(v) for k, v in value.items()}}}
