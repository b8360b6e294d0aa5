"""The security rules of deploy/, enforced by the Firestore emulator, spoken to over REST.

The Python admin client bypasses security rules, so these tests call the
emulator's REST API as a signed-in user would: with a Firebase ID token. The
emulator accepts unsigned tokens (``alg: none``) and takes the user id from
``sub`` / ``user_id``. The rules are loaded through the emulator's own endpoint
(``PUT /emulator/v1/projects/{project}:securityRules``), which reports compile
problems; one emulator serves the whole session and is stopped at its end.
"""

from __future__ import annotations

import base64
import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tributary.emulators import Emulator, start_firestore

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy"
PROJECT = "tributary-rules"


@dataclass
class Reply:
    status: int
    body: Any


class FirestoreRest:
    """Documents of one emulator project, as a given user (or none) sees them."""

    def __init__(self, emulator: Emulator, project: str) -> None:
        self.base = f"http://{emulator.host_port}"
        self.project = project
        self.documents = f"/v1/projects/{project}/databases/(default)/documents"

    def load_rules(self, filename: str, source: str) -> Reply:
        body = {"rules": {"files": [{"name": filename, "content": source}]}}
        return self.call("PUT", f"/emulator/v1/projects/{self.project}:securityRules", body)

    def call(self, method: str, path: str, body: Any = None, *, token: str | None = None) -> Reply:
        headers = {"Content-Type": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        request = urllib.request.Request(
            self.base + path,
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers=headers,
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return Reply(response.status, json.loads(response.read() or b"null"))
        except urllib.error.HTTPError as exc:
            return Reply(exc.code, json.loads(exc.read() or b"null"))

    # -- documents, in plain Python --------------------------------------------

    def create(
        self, collection: str, doc_id: str, data: dict[str, Any], token: str | None
    ) -> Reply:
        return self.call(
            "POST", f"{self.documents}/{collection}?documentId={doc_id}", fields(data), token=token
        )

    def get(self, path: str, token: str | None) -> Reply:
        return self.call("GET", f"{self.documents}/{path}", token=token)

    def update(self, path: str, data: dict[str, Any], token: str | None) -> Reply:
        mask = "&".join(f"updateMask.fieldPaths={name}" for name in data)
        return self.call("PATCH", f"{self.documents}/{path}?{mask}", fields(data), token=token)

    def delete(self, path: str, token: str | None) -> Reply:
        return self.call("DELETE", f"{self.documents}/{path}", token=token)

    def jobs_of(self, owner: str | None, token: str | None) -> Reply:
        query: dict[str, Any] = {"from": [{"collectionId": "jobs"}]}
        if owner is not None:
            query["where"] = {
                "fieldFilter": {
                    "field": {"fieldPath": "owner"},
                    "op": "EQUAL",
                    "value": value(owner),
                }
            }
        return self.call(
            "POST", f"{self.documents}:runQuery", {"structuredQuery": query}, token=token
        )


def value(python: Any) -> dict[str, Any]:
    """A plain Python value as a Firestore REST ``Value``."""
    if python is None:
        return {"nullValue": None}
    if isinstance(python, bool):
        return {"booleanValue": python}
    if isinstance(python, int):
        return {"integerValue": str(python)}
    if isinstance(python, float):
        return {"doubleValue": python}
    if isinstance(python, dict):
        return {"mapValue": fields(python)}
    if isinstance(python, list):
        return {"arrayValue": {"values": [value(item) for item in python]}}
    return {"stringValue": str(python)}


def fields(data: dict[str, Any]) -> dict[str, Any]:
    return {"fields": {name: value(item) for name, item in data.items()}}


def id_token(uid: str) -> str:
    """An unsigned Firebase ID token for ``uid``, as the emulators accept."""

    def part(content: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(content).encode()).rstrip(b"=").decode()

    now = int(time.time())
    claims = {
        "iss": f"https://securetoken.google.com/{PROJECT}",
        "aud": PROJECT,
        "sub": uid,
        "user_id": uid,
        "iat": now,
        "exp": now + 3600,
        "auth_time": now,
        "firebase": {"sign_in_provider": "password", "identities": {}},
    }
    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


# The emulator's administrator credential: bypasses the rules, as the pipeline does.
ADMIN = "owner"


@pytest.fixture(scope="session")
def firestore_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    emulator = start_firestore(log_dir=tmp_path_factory.mktemp("rules-emulator"))
    try:
        yield emulator
    finally:
        emulator.stop()


@pytest.fixture(scope="session")
def firestore(firestore_emulator: Emulator) -> FirestoreRest:
    """The emulator, enforcing deploy/firestore.rules for project PROJECT."""
    rest = FirestoreRest(firestore_emulator, PROJECT)
    loaded = rest.load_rules("firestore.rules", (RULES / "firestore.rules").read_text())
    assert loaded.status == 200 and not (loaded.body or {}).get("issues"), loaded.body
    return rest
