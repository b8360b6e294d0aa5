"""The Firestore emulator's trigger delivery, captured live, matches its golden file
and creates a job when replayed into on_query."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from flask.testing import FlaskClient

from tests.functions.conftest import EXAMPLES, QUERY_JOB
from tests.functions.firestore_capture import capture_created
from tributary import jobs
from tributary.backend import Backend

FIELDS = {
    "app": {"stringValue": "echo"},
    "owner": {"stringValue": "alice"},
    "input": {
        "mapValue": {
            "fields": {"kind": {"stringValue": "text"}, "text": {"stringValue": "hello, world"}}
        }
    },
}
# Attributes that change with every delivery.
VOLATILE = {"ce-id", "ce-time"}


def test_the_emulator_sends_what_the_golden_file_says(
    tmp_path: Path, function: Callable[[str], FlaskClient], served: Backend
) -> None:
    delivery = capture_created("tributary-demo", "jobs", QUERY_JOB, FIELDS, tmp_path)
    example = json.loads((EXAMPLES / "firestore.document.created.emulator.json").read_text())
    headers = {
        k: v for k, v in delivery.headers.items() if k.startswith("ce-") or k == "content-type"
    }
    assert delivery.path == example["path"]
    assert {k: v for k, v in headers.items() if k not in VOLATILE} == {
        k: v for k, v in example["headers"].items() if k not in VOLATILE
    }
    # Not the protobuf bytes: their base64 text (the document's timestamps differ).
    assert delivery.body.isascii() and delivery.body[:1] != b"\x0a"

    response = function("on_query").post("/", headers=delivery.headers, data=delivery.body)
    assert response.status_code == 200, response.get_json()
    job = served.documents.get(jobs.job_path(QUERY_JOB))
    assert job is not None and job["state"] == "queued" and job["owner"] == "alice"
