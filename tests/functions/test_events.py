"""The golden events, replayed into main.py's functions on the embedded backend."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable

import pytest
from flask.testing import FlaskClient

from schemas import StageMessage, StageName
from tests import fakeapps
from tests.functions.conftest import QUERY_JOB, UPLOAD_JOB, golden, post, push_envelope
from tributary import client, intake, jobs
from tributary.backend import Backend
from tributary.topology import JOBS_COLLECTION, STAGE_BY_NAME

Client = Callable[[str], FlaskClient]


def _jobs(backend: Backend) -> list[dict]:
    return [doc for _id, doc in backend.documents.query(JOBS_COLLECTION)]


def _doc(backend: Backend, job_id: str) -> dict:
    document = backend.documents.get(jobs.job_path(job_id))
    assert document is not None, f"no job {job_id}"
    return document


def _pull_one(backend: Backend, stage: str):  # type: ignore[no-untyped-def]
    subscription = STAGE_BY_NAME[stage].subscription
    messages = backend.bus.pull(subscription, max_messages=10, timeout=1.0)
    assert len(messages) == 1, f"expected one message for {stage}, got {len(messages)}"
    backend.bus.ack(subscription, [messages[0].ack_id])
    return messages[0]


@pytest.mark.parametrize(
    "example",
    [
        "storage.object.finalized.binary.json",
        "storage.object.finalized.structured.json",
        "storage.notification.pubsub.json",
    ],
)
def test_an_upload_event_creates_one_job_even_when_delivered_twice(
    function: Client, served: Backend, example: str
) -> None:
    on_upload = function("on_upload")
    headers, body = golden(example)
    for _ in range(2):
        response = post(on_upload, headers, body)
        assert response.status_code == 200, response.get_json()
        assert response.get_json() == {"outcome": "ack"}
    [job] = _jobs(served)
    assert job["job_id"] == UPLOAD_JOB and job["app"] == "echo" and job["owner"] == "alice"
    assert job["state"] == "queued"
    assert job["input"]["name"] == f"uploads/alice/echo/{UPLOAD_JOB}.webm"
    assert job["input"]["generation"] == 1716390000123456 and job["input"]["size"] == 48213
    assert job["input"]["content_type"] == "audio/webm"


def test_a_storage_notification_other_than_finalize_is_acknowledged_and_ignored(
    function: Client, served: Backend
) -> None:
    headers, body = golden("storage.notification.pubsub.json")
    envelope = json.loads(body)
    envelope["message"]["attributes"]["eventType"] = "OBJECT_DELETE"
    response = post(function("on_upload"), headers, json.dumps(envelope).encode())
    assert response.status_code == 200
    assert _jobs(served) == []


@pytest.mark.parametrize(
    "example",
    ["firestore.document.created.binary.json", "firestore.document.created.emulator.json"],
)
def test_a_query_event_creates_a_queued_job_and_publishes_its_first_stage(
    function: Client, served: Backend, example: str
) -> None:
    headers, body = golden(example)
    response = post(function("on_query"), headers, body)
    assert response.status_code == 200, response.get_json()
    job = served.documents.get(jobs.job_path(QUERY_JOB))
    assert job is not None and job["state"] == "queued"
    assert job["owner"] == "alice" and job["input"] == {"kind": "text", "text": "hello, world"}
    first = StageMessage.model_validate_json(_pull_one(served, "preprocess").data)
    assert (first.job_id, first.stage, first.run) == (QUERY_JOB, "preprocess", 1)


def test_the_three_stage_functions_carry_a_job_to_its_result(
    function: Client, served: Backend
) -> None:
    post(function("on_query"), *golden("firestore.document.created.binary.json"))
    _pull_one(served, "preprocess")  # the bus's own copy; the golden event stands for it
    # preprocess: Eventarc's messagePublished CloudEvent (binary mode).
    response = post(function("preprocess"), *golden("pubsub.message.published.binary.json"))
    assert response.status_code == 200
    # infer: a raw Pub/Sub push of what preprocess published.
    features = _pull_one(served, "inference")
    response = post(
        function("infer"), {"Content-Type": "application/json"}, push_envelope(features, attempt=1)
    )
    assert response.status_code == 200
    # lookup: a structured-mode CloudEvent of what inference published.
    prediction = _pull_one(served, "lookup")
    structured = {
        "specversion": "1.0",
        "type": "google.cloud.pubsub.topic.v1.messagePublished",
        "source": "//pubsub.googleapis.com/projects/tributary-demo/topics/tributary-predictions",
        "id": prediction.message_id,
        "datacontenttype": "application/json",
        "data": json.loads(push_envelope(prediction)),
    }
    response = post(
        function("lookup"),
        {"Content-Type": "application/cloudevents+json"},
        json.dumps(structured).encode(),
    )
    assert response.status_code == 200
    job = served.documents.get(jobs.job_path(QUERY_JOB))
    assert job is not None and job["state"] == "succeeded", job
    assert job["result"] == {"length": len("hello, world"), "sum": 6.0}
    assert job["model"] == {"name": "echo", "version": "v1"}


def test_the_structured_and_push_forms_run_the_stage_too(function: Client, served: Backend) -> None:
    post(function("on_query"), *golden("firestore.document.created.binary.json"))
    assert (
        post(
            function("preprocess"), *golden("pubsub.message.published.structured.json")
        ).status_code
        == 200
    )
    # The same message again, pushed raw: a duplicate of finished work is acknowledged.
    assert post(function("preprocess"), *golden("pubsub.push.json")).status_code == 200
    assert fakeapps.CALLS[(QUERY_JOB, "preprocess")] == 1


def test_a_stage_asking_for_a_retry_answers_an_error_status_and_succeeds_when_redelivered(
    function: Client, served: Backend
) -> None:
    job_id = _text_job(served, "flaky:1")
    message = _stage_message(job_id, "inference", {"text": "flaky:1", "vector": [0, 1, 2, 3]})
    infer = function("infer")
    first = post(infer, {"Content-Type": "application/json"}, _push(message, attempt=1))
    assert first.status_code == 503 and first.get_json() == {"outcome": "nack"}
    second = post(infer, {"Content-Type": "application/json"}, _push(message, attempt=2))
    assert second.status_code == 200
    assert _doc(served, job_id)["stages"]["inference"]["attempts"] == 2


def test_the_last_delivery_attempt_fails_the_job_and_still_asks_for_the_dead_letter_topic(
    function: Client, served: Backend
) -> None:
    job_id = _text_job(served, "crash")
    message = _stage_message(job_id, "inference", {"text": "crash", "vector": [0, 1, 2, 3]})
    response = post(
        function("infer"), {"Content-Type": "application/json"}, _push(message, attempt=5)
    )
    assert response.status_code == 503
    job = _doc(served, job_id)
    assert job["state"] == "failed" and job["error"]["code"] == "exhausted_retries"


def test_without_a_delivery_attempt_the_stage_counts_its_claims_on_the_job(
    function: Client, served: Backend
) -> None:
    job_id = _text_job(served, "crash")
    message = _stage_message(job_id, "inference", {"text": "crash", "vector": [0, 1, 2, 3]})
    infer = function("infer")
    limit = served.settings.max_delivery_attempts
    for claim in range(1, limit):
        response = post(infer, {"Content-Type": "application/json"}, _push(message, attempt=None))
        assert response.status_code == 503
        job = _doc(served, job_id)
        assert job["state"] == "inference" and job["stages"]["inference"]["attempts"] == claim

    last = post(infer, {"Content-Type": "application/json"}, _push(message, attempt=None))

    assert last.status_code == 503  # still nacked: Pub/Sub then dead-letters it
    job = _doc(served, job_id)
    assert job["state"] == "failed" and job["error"]["code"] == "exhausted_retries"
    assert job["error"]["stage"] == "inference"
    assert job["error"]["message"].startswith(f"inference failed {limit} times")


def test_a_dead_letter_is_recorded_and_fails_its_job(function: Client, served: Backend) -> None:
    post(function("on_query"), *golden("firestore.document.created.binary.json"))
    response = post(function("dead_letter"), *golden("pubsub.dead_letter.published.binary.json"))
    assert response.status_code == 200
    record = served.documents.get("deadletters/1029384756000")
    assert record is not None and record["attempts"] == 5 and record["job_id"] == QUERY_JOB
    assert record["subscription"] == "eventarc-us-central1-infer-123456-sub-003"
    job = _doc(served, QUERY_JOB)
    assert job["state"] == "failed" and job["error"]["code"] == "exhausted_retries"


WRONG_TYPES = [
    ("on_upload", "firestore.document.created.binary.json"),
    ("on_query", "storage.object.finalized.binary.json"),
    ("on_query", "pubsub.message.published.binary.json"),
    ("preprocess", "storage.object.finalized.structured.json"),
    ("infer", "firestore.document.created.emulator.json"),
    ("lookup", "storage.object.finalized.binary.json"),
    ("dead_letter", "firestore.document.created.binary.json"),
]


@pytest.mark.parametrize(("target", "example"), WRONG_TYPES)
def test_an_event_of_the_wrong_type_is_refused_with_400(
    function: Client, served: Backend, target: str, example: str
) -> None:
    response = post(function(target), *golden(example))
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "unexpected_event_type"
    assert error["message"].startswith("this function handles ")
    assert _jobs(served) == []


def _binary(example: str, **changes: str) -> tuple[dict[str, str], bytes]:
    headers, body = golden(example)
    for name, value in changes.items():
        headers[name.replace("_", "-")] = value
    return headers, body


def _with_message(example: str, **fields: object) -> tuple[dict[str, str], bytes]:
    headers, body = golden(example)
    envelope = json.loads(body)
    envelope["message"].update(fields)
    return headers, json.dumps(envelope).encode()


BAD_PAYLOADS = {
    "not json": ("on_upload", ({"Content-Type": "application/json"}, b"{not json")),
    "neither form": ("preprocess", ({"Content-Type": "application/json"}, b'{"hello": 1}')),
    "no ce-id": ("on_upload", _binary("storage.object.finalized.binary.json", ce_id="")),
    "object without a name": (
        "on_upload",
        (golden("storage.object.finalized.binary.json")[0], b'{"bucket": "tributary-uploads"}'),
    ),
    "garbage protobuf": (
        "on_query",
        (golden("firestore.document.created.binary.json")[0], b"\x0a\xff\xff\xff"),
    ),
    "firestore as text/plain": (
        "on_query",
        _binary("firestore.document.created.binary.json", content_type="text/plain"),
    ),
    "data not base64": ("preprocess", _with_message("pubsub.push.json", data="%%% not base64")),
    "bad publish time": ("infer", _with_message("pubsub.push.json", publishTime="yesterday")),
    "notification in XML": (
        "on_upload",
        _with_message(
            "storage.notification.pubsub.json",
            attributes={"eventType": "OBJECT_FINALIZE", "payloadFormat": "NONE"},
        ),
    ),
    "plain message on the upload function": ("on_upload", golden("pubsub.push.json")),
}


@pytest.mark.parametrize("case", sorted(BAD_PAYLOADS))
def test_a_malformed_event_is_refused_with_a_clear_400(
    function: Client, served: Backend, case: str
) -> None:
    target, (headers, body) = BAD_PAYLOADS[case]
    response = post(function(target), headers, body)
    assert response.status_code == 400, response.data
    error = response.get_json()["error"]
    assert error["code"] == "malformed_event" and error["message"]
    assert _jobs(served) == []


def _text_job(backend: Backend, text: str) -> str:
    """A job as the query trigger creates it from a client's document."""
    job_id = client.submit_text(backend, text, app="echo", uid="alice")
    intake.job_from_query(backend, jobs.job_path(job_id), _doc(backend, job_id))
    return job_id


def _stage_message(job_id: str, stage: StageName, payload: dict) -> bytes:
    return (
        StageMessage(job_id=job_id, app="echo", run=1, stage=stage, payload=payload)
        .model_dump_json()
        .encode()
    )


def _push(data: bytes, *, attempt: int | None) -> bytes:
    """A raw push of ``data``; ``attempt=None`` leaves ``deliveryAttempt`` out, as the emulator does."""
    envelope: dict = {
        "message": {
            "data": base64.b64encode(data).decode(),
            "attributes": {},
            "messageId": "42",
            "publishTime": "2024-05-22T15:01:03.004Z",
        },
        "subscription": "projects/tributary-demo/subscriptions/tributary-infer",
    }
    if attempt is not None:
        envelope["deliveryAttempt"] = attempt
    return json.dumps(envelope).encode()
