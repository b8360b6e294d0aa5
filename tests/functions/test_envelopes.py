"""tributary.envelopes against events built with the official SDK types."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest
from cloudevents.conversion import to_binary, to_structured
from cloudevents.http import CloudEvent
from google.events.cloud.firestore_v1 import Document, DocumentEventData, Value
from google.events.cloud.firestore_v1.types import ArrayValue, MapValue
from google.protobuf import timestamp_pb2
from google.type import latlng_pb2

from tests.functions.conftest import QUERY_JOB, golden
from tributary import envelopes

OBJECT = {
    "bucket": "tributary-uploads",
    "name": "uploads/alice/echo/5f0c2a8e-3b1d-4c6f-8a9e-7d2b1c0f4e36.wav",
    "generation": "1716390000123456",
    "size": "1024",
    "contentType": "audio/wav",
}


@pytest.mark.parametrize("encode", [to_binary, to_structured])
def test_a_storage_cloudevent_in_either_mode_gives_the_object_resource(encode) -> None:  # type: ignore[no-untyped-def]
    event = CloudEvent(
        {
            "type": envelopes.STORAGE_FINALIZED,
            "source": "//storage.googleapis.com/projects/_/buckets/tributary-uploads",
            "subject": f"objects/{OBJECT['name']}",
        },
        OBJECT,
    )
    headers, body = encode(event)
    received = envelopes.read_event(headers, body)
    assert received.mode == ("binary" if encode is to_binary else "structured")
    assert received.type == envelopes.STORAGE_FINALIZED and received.id == event["id"]
    assert envelopes.storage_object(received) == OBJECT


def _document_event(fields: dict[str, Value]) -> DocumentEventData:
    return DocumentEventData(
        value=Document(
            name=f"projects/p/databases/(default)/documents/jobs/{QUERY_JOB}", fields=fields
        )
    )


def _firestore_event(data: bytes, content_type: str = "application/protobuf") -> envelopes.Event:
    headers = {
        "ce-specversion": "1.0",
        "ce-id": "1",
        "ce-source": "//firestore.googleapis.com/projects/p/databases/(default)",
        "ce-type": envelopes.FIRESTORE_CREATED,
        "ce-subject": f"documents/jobs/{QUERY_JOB}",
        "Content-Type": content_type,
    }
    return envelopes.read_event(headers, data)


def test_every_firestore_value_kind_becomes_plain_python() -> None:
    moment = timestamp_pb2.Timestamp(seconds=1716390062, nanos=345678000)
    fields = {
        "null": Value(null_value=0),
        "yes": Value(boolean_value=True),
        "count": Value(integer_value=-(2**40)),
        "ratio": Value(double_value=0.25),
        "when": Value(timestamp_value=moment),
        "text": Value(string_value="héllo"),
        "raw": Value(bytes_value=b"\x00\x01"),
        "ref": Value(reference_value="projects/p/databases/(default)/documents/jobs/x"),
        "where": Value(geo_point_value=latlng_pb2.LatLng(latitude=48.85, longitude=2.35)),
        "list": Value(
            array_value=ArrayValue(values=[Value(string_value="a"), Value(integer_value=2)])
        ),
        "nested": Value(map_value=MapValue(fields={"kind": Value(string_value="text")})),
    }
    raw = DocumentEventData.serialize(_document_event(fields))
    path, document = envelopes.firestore_document(_firestore_event(raw))
    assert path == f"jobs/{QUERY_JOB}"
    assert document == {
        "null": None,
        "yes": True,
        "count": -(2**40),
        "ratio": 0.25,
        "when": datetime(2024, 5, 22, 15, 1, 2, 345678, tzinfo=UTC),
        "text": "héllo",
        "raw": b"\x00\x01",
        "ref": "projects/p/databases/(default)/documents/jobs/x",
        "where": {"latitude": 48.85, "longitude": 2.35},
        "list": ["a", 2],
        "nested": {"kind": "text"},
    }


def test_the_emulators_base64_body_and_the_json_form_decode_like_the_protobuf() -> None:
    fields = {"app": Value(string_value="echo"), "n": Value(integer_value=3)}
    data = _document_event(fields)
    raw = DocumentEventData.serialize(data)
    as_json = DocumentEventData.to_json(data).encode()
    expected = (f"jobs/{QUERY_JOB}", {"app": "echo", "n": 3})
    assert envelopes.firestore_document(_firestore_event(raw)) == expected
    assert envelopes.firestore_document(_firestore_event(base64.b64encode(raw))) == expected
    assert envelopes.firestore_document(_firestore_event(as_json, "application/json")) == expected


def test_the_golden_firestore_events_of_google_and_of_the_emulator_agree() -> None:
    real = envelopes.firestore_document(
        envelopes.read_event(*golden("firestore.document.created.binary.json"))
    )
    emulated = envelopes.firestore_document(
        envelopes.read_event(*golden("firestore.document.created.emulator.json"))
    )
    assert (
        real
        == emulated
        == (
            f"jobs/{QUERY_JOB}",
            {"app": "echo", "owner": "alice", "input": {"kind": "text", "text": "hello, world"}},
        )
    )


def test_a_message_published_event_without_delivery_attempt_leaves_it_unknown() -> None:
    event = CloudEvent(
        {
            "type": envelopes.PUBSUB_PUBLISHED,
            "source": "//pubsub.googleapis.com/projects/p/topics/tributary-jobs",
        },
        {
            "message": {
                "data": base64.b64encode(b'{"x": 1}').decode(),
                "attributes": {"job_id": "j"},
                "messageId": "123",
                "publishTime": "2024-05-22T15:01:03.123456789Z",
            },
            "subscription": "projects/p/subscriptions/s",
        },
    )
    message = envelopes.pubsub_message(envelopes.read_event(*to_binary(event)))
    assert message.data == b'{"x": 1}' and message.attributes == {"job_id": "j"}
    assert message.message_id == "123" and message.delivery_attempt is None
    assert message.publish_time == datetime(2024, 5, 22, 15, 1, 3, 123456, tzinfo=UTC)


def test_a_raw_push_keeps_its_delivery_attempt_and_agrees_with_the_cloudevent() -> None:
    pushed = envelopes.pubsub_message(envelopes.read_event(*golden("pubsub.push.json")))
    published = envelopes.pubsub_message(
        envelopes.read_event(*golden("pubsub.message.published.binary.json"))
    )
    assert pushed.delivery_attempt == 2
    assert (pushed.data, pushed.attributes, pushed.message_id, pushed.publish_time) == (
        published.data,
        published.attributes,
        published.message_id,
        published.publish_time,
    )
    assert json.loads(pushed.data)["job_id"] == QUERY_JOB


def test_a_message_without_data_has_empty_data() -> None:
    body = json.dumps(
        {"message": {"messageId": "7", "publishTime": "2024-01-01T00:00:00Z"}, "subscription": "s"}
    )
    message = envelopes.pubsub_message(envelopes.read_event({}, body.encode()))
    assert message.data == b"" and message.attributes == {}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-05-22T15:01:03Z", datetime(2024, 5, 22, 15, 1, 3, tzinfo=UTC)),
        ("2024-05-22T15:01:03.5Z", datetime(2024, 5, 22, 15, 1, 3, 500000, tzinfo=UTC)),
        ("2024-05-22T17:01:03.000001+02:00", datetime(2024, 5, 22, 15, 1, 3, 1, tzinfo=UTC)),
    ],
)
def test_timestamps_of_any_precision_parse(text: str, expected: datetime) -> None:
    assert envelopes.parse_timestamp(text) == expected


def test_errors_carry_stable_codes() -> None:
    with pytest.raises(envelopes.UnexpectedEventType) as wrong:
        envelopes.pubsub_message(
            envelopes.read_event(*golden("storage.object.finalized.binary.json"))
        )
    assert wrong.value.code == "unexpected_event_type"
    with pytest.raises(envelopes.MalformedEvent) as bad:
        envelopes.read_event({"Content-Type": "application/json"}, b"[1, 2]")
    assert bad.value.code == "malformed_event"
