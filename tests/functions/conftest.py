"""Cloud Functions replayed through the Functions Framework on the embedded backend.

``main.py`` is loaded in-process by ``functions_framework.create_app``, so the
``echo`` app registered by the suite's autouse fixture is served here too.
Settings come from the environment, as in production.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import functions_framework
import pytest
from flask.testing import FlaskClient

from tributary.backend import Backend
from tributary.functions import RUNTIME

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "schemas" / "examples"
ALLOWED_ORIGIN = "https://app.tributary.example"

# The ids the golden events carry.
QUERY_JOB = "0b7c6c0e-6a8f-4e8a-9d55-3c2b1a0f9e11"
UPLOAD_JOB = "5f0c2a8e-3b1d-4c6f-8a9e-7d2b1c0f4e36"


@pytest.fixture(autouse=True)
def function_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The settings a deployed function would get, pointing at a fresh embedded backend."""
    monkeypatch.setenv("TRIBUTARY_BACKEND", "local")
    monkeypatch.setenv("TRIBUTARY_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("TRIBUTARY_MAX_DELIVERY_ATTEMPTS", "5")
    monkeypatch.setenv("TRIBUTARY_CORS_ORIGINS", ALLOWED_ORIGIN)
    # The explicit development mode: X-Dev-User names the caller.
    monkeypatch.setenv("TRIBUTARY_AUTH", "dev")
    RUNTIME.close()
    yield
    RUNTIME.close()


@pytest.fixture
def function() -> Callable[[str], FlaskClient]:
    """A test client for one entry point of main.py."""

    def make(target: str) -> FlaskClient:
        return functions_framework.create_app(
            target=target, source=str(ROOT / "main.py")
        ).test_client()

    return make


@pytest.fixture
def served() -> Backend:
    """The backend the functions opened (the same process, the same settings)."""
    return RUNTIME.backend()


def golden(name: str) -> tuple[dict[str, str], bytes]:
    """Headers and body of a golden event in schemas/examples/."""
    example: dict[str, Any] = json.loads((EXAMPLES / name).read_text())
    if "body_base64" in example:
        body = base64.b64decode(example["body_base64"])
    elif "body_text" in example:
        body = example["body_text"].encode("ascii")
    else:
        body = json.dumps(example["body"]).encode("utf-8")
    return dict(example["headers"]), body


def post(client: FlaskClient, headers: dict[str, str], body: bytes) -> Any:
    return client.post("/", headers=headers, data=body)


def push_envelope(
    message: Any, *, attempt: int | None = None, subscription: str = "tributary-x"
) -> bytes:
    """A raw Pub/Sub push body for a message pulled from the embedded bus."""
    envelope: dict[str, Any] = {
        "message": {
            "data": base64.b64encode(message.data).decode(),
            "attributes": message.attributes,
            "messageId": message.message_id,
            "publishTime": message.publish_time.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        },
        "subscription": f"projects/tributary-demo/subscriptions/{subscription}",
    }
    if attempt is not None:
        envelope["deliveryAttempt"] = attempt
    return json.dumps(envelope).encode()
