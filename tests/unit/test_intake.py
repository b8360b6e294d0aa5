"""Events become jobs, once per event, with clear errors for what cannot be a job."""

from __future__ import annotations

import json
import uuid

import pytest

from tests.helpers import job
from tributary import client, intake
from tributary.backend import Backend
from tributary.topology import STAGES, SUB_ON_UPLOAD


def _drain(backend: Backend, subscription: str) -> list[bytes]:
    out = []
    while messages := backend.bus.pull(subscription, max_messages=50):
        backend.bus.ack(subscription, [m.ack_id for m in messages])
        out.extend(m.data for m in messages)
    return out


def _finalize_events(backend: Backend) -> list[dict]:
    return [json.loads(data) for data in _drain(backend, SUB_ON_UPLOAD)]


def test_the_same_object_generation_twice_is_one_job(backend: Backend) -> None:
    job_id = client.submit_file(backend, b"abc", app="echo", filename="a.wav")
    [event] = _finalize_events(backend)
    assert intake.job_from_upload(backend, event) == job_id
    assert intake.job_from_upload(backend, event) == job_id
    doc = job(backend, job_id)
    assert doc is not None and doc["state"] == "queued" and doc["owner"] == "local"
    assert doc["input"]["generation"] == int(event["generation"])
    assert doc["input"]["sha256"] == event["sha256"]
    # The second delivery republishes the first message (healing a lost publish);
    # the stage's claim drops the duplicate.
    first_stage = _drain(backend, STAGES[0].subscription)
    assert len(first_stage) == 2 and first_stage[0] == first_stage[1]


def test_a_duplicate_of_a_job_already_running_publishes_nothing(backend: Backend) -> None:
    job_id = client.submit_file(backend, b"abc", app="echo", filename="a.wav")
    [event] = _finalize_events(backend)
    intake.job_from_upload(backend, event)
    backend.documents.merge(
        f"jobs/{job_id}", {"state": "preprocessing", "stages": {"preprocess": {"run": 1}}}
    )
    _drain(backend, STAGES[0].subscription)
    intake.job_from_upload(backend, event)
    assert _drain(backend, STAGES[0].subscription) == []


def test_an_unknown_app_fails_the_job_with_its_code(backend: Backend) -> None:
    job_id = str(uuid.uuid4())
    name = f"uploads/u1/nosuchapp/{job_id}.wav"
    backend.blobs.put(name, b"abc")
    [event] = _finalize_events(backend)
    intake.job_from_upload(backend, event)
    doc = job(backend, job_id)
    assert doc is not None and doc["state"] == "failed"
    assert doc["error"]["code"] == "unknown_app"
    assert "nosuchapp" in doc["error"]["message"]
    assert _drain(backend, STAGES[0].subscription) == []


@pytest.mark.parametrize(
    "name",
    [
        "uploads/u1/echo/../../etc/passwd",
        "uploads/u1/echo/not-a-uuid.wav",
        "uploads/ü/echo/7b1f3c1e-5a0e-4a65-9a47-1c2f1d4b9c11.wav",
        "uploads/u1/echo/7b1f3c1e-5a0e-4a65-9a47-1c2f1d4b9c11.wäv",
    ],
)
def test_an_object_name_outside_the_layout_gets_a_failed_job(backend: Backend, name: str) -> None:
    backend.blobs.put(name, b"abc")
    [event] = _finalize_events(backend)
    job_id = intake.job_from_upload(backend, event)
    assert job_id is not None
    doc = job(backend, job_id)
    assert doc is not None and doc["state"] == "failed"
    assert doc["error"]["code"] == "invalid_object_name"
    # The same event again does not make a second job.
    assert intake.job_from_upload(backend, event) == job_id


def test_objects_outside_the_uploads_prefix_are_not_jobs(backend: Backend) -> None:
    info = backend.blobs.put("work/something.json", b"{}")
    resource = {"bucket": info.bucket, "name": info.name, "generation": str(info.generation)}
    assert intake.job_from_upload(backend, resource) is None


def test_a_query_document_becomes_a_queued_job(backend: Backend) -> None:
    job_id = client.submit_text(backend, "hello", app="echo", uid="alice")
    doc = job(backend, job_id)
    assert doc is not None and "state" not in doc  # as the client wrote it
    intake.job_from_query(backend, f"jobs/{job_id}", doc)
    intake.job_from_query(backend, f"jobs/{job_id}", doc)  # duplicate delivery
    doc = job(backend, job_id)
    assert doc is not None and doc["state"] == "queued" and doc["owner"] == "alice"
    assert doc["input"] == {"kind": "text", "text": "hello"}


def test_a_query_with_a_malformed_input_fails_clearly(backend: Backend) -> None:
    backend.documents.create(
        "jobs/" + (job_id := str(uuid.uuid4())), {"app": "echo", "input": {"kind": "text"}}
    )
    intake.job_from_query(backend, f"jobs/{job_id}", {"app": "echo", "input": {"kind": "text"}})
    doc = job(backend, job_id)
    assert doc is not None and doc["state"] == "failed" and doc["error"]["code"] == "invalid_input"
