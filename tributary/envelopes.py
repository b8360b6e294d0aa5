"""Every event form a Cloud Function receives, decoded into the core's inputs.

An HTTP delivery is first read into an :class:`Event` (CloudEvent attributes and
the raw data bytes), whatever its form:

- a CloudEvent in *binary* mode (``ce-*`` headers, the data is the body): what
  Eventarc sends for Cloud Storage, Firestore and Pub/Sub triggers;
- a CloudEvent in *structured* mode (one JSON object with ``data`` or
  ``data_base64``);
- a raw Pub/Sub *push* envelope ``{message, subscription, deliveryAttempt}``.

Then one decoder per event type turns the event into what the core takes:
the object resource for :func:`tributary.intake.job_from_upload`, the document
path and plain dict for :func:`tributary.intake.job_from_query`, or a
:class:`tributary.ports.Message` for the stage harness and the dead-letter handler.
Both steps are driven by the lookup tables below; anything that does not fit
raises :class:`UnexpectedEventType` or :class:`MalformedEvent`, which the edge
answers with 400.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from google.events.cloud.firestore_v1 import DocumentEventData
from google.protobuf import json_format
from google.protobuf.message import DecodeError

from tributary.errors import PermanentError
from tributary.ports import Message

STORAGE_FINALIZED = "google.cloud.storage.object.v1.finalized"
FIRESTORE_CREATED = "google.cloud.firestore.document.v1.created"
PUBSUB_PUBLISHED = "google.cloud.pubsub.topic.v1.messagePublished"

# Cloud Storage notifications delivered through Pub/Sub (notification config).
NOTIFICATION_FINALIZE = "OBJECT_FINALIZE"
NOTIFICATION_FORMAT = "JSON_API_V1"


class EventError(PermanentError):
    """An HTTP delivery this function cannot use; retrying it cannot help."""

    code = "malformed_event"


class UnexpectedEventType(EventError):
    """A well-formed event of a type this function does not handle."""

    code = "unexpected_event_type"


class MalformedEvent(EventError):
    """Not a CloudEvent or push envelope, or its data is not what its type promises."""

    code = "malformed_event"


@dataclass(frozen=True)
class Event:
    """One delivery: CloudEvent context attributes plus the data bytes."""

    type: str
    id: str
    source: str
    data: bytes
    content_type: str | None = None
    subject: str | None = None
    time: str | None = None
    mode: str = "binary"  # "binary" | "structured" | "push"
    extensions: Mapping[str, str] = field(default_factory=dict)


# -- reading the HTTP delivery ---------------------------------------------------

_CE_HEADER = "ce-"
_CORE_ATTRIBUTES = ("id", "source", "type", "specversion", "subject", "time", "datacontenttype")


def read_event(headers: Mapping[str, str], body: bytes) -> Event:
    """The event carried by one HTTP request, in any of the forms above."""
    lowered = {name.lower(): value for name, value in headers.items()}
    if _CE_HEADER + "specversion" in lowered:
        return _binary(lowered, body)
    envelope = _json_object(body, "the request body")
    for matches, build in _JSON_FORMS:
        if matches(envelope):
            return build(envelope)
    raise MalformedEvent(
        "the request is neither a CloudEvent (binary or structured mode) nor a Pub/Sub push"
        " envelope {message, subscription}"
    )


def _binary(headers: Mapping[str, str], body: bytes) -> Event:
    attributes = {k[len(_CE_HEADER) :]: v for k, v in headers.items() if k.startswith(_CE_HEADER)}
    _require(attributes, ("id", "source", "type"), "binary-mode CloudEvent headers (ce-*)")
    return Event(
        type=attributes["type"],
        id=attributes["id"],
        source=attributes["source"],
        data=body,
        content_type=headers.get("content-type"),
        subject=attributes.get("subject"),
        time=attributes.get("time"),
        mode="binary",
        extensions={k: v for k, v in attributes.items() if k not in _CORE_ATTRIBUTES},
    )


def _structured(envelope: dict[str, Any]) -> Event:
    _require(envelope, ("id", "source", "type"), "structured-mode CloudEvent")
    if "data_base64" in envelope:
        data = _b64decode(envelope["data_base64"], "data_base64")
    elif isinstance(envelope.get("data"), str):
        data = envelope["data"].encode("utf-8")
    elif "data" in envelope:
        data = json.dumps(envelope["data"]).encode("utf-8")
    else:
        data = b""
    return Event(
        type=str(envelope["type"]),
        id=str(envelope["id"]),
        source=str(envelope["source"]),
        data=data,
        content_type=envelope.get("datacontenttype"),
        subject=envelope.get("subject"),
        time=envelope.get("time"),
        mode="structured",
        extensions={
            k: str(v)
            for k, v in envelope.items()
            if k not in _CORE_ATTRIBUTES and k not in ("data", "data_base64")
        },
    )


def _push(envelope: dict[str, Any]) -> Event:
    """A raw push request is the MessagePublishedData of the equivalent CloudEvent."""
    message = envelope["message"]
    return Event(
        type=PUBSUB_PUBLISHED,
        id=str(message.get("messageId") or message.get("message_id") or ""),
        source=f"//pubsub.googleapis.com/{envelope.get('subscription', '')}",
        data=json.dumps(envelope).encode("utf-8"),
        content_type="application/json",
        time=message.get("publishTime") or message.get("publish_time"),
        mode="push",
    )


_JSON_FORMS: tuple[
    tuple[Callable[[dict[str, Any]], bool], Callable[[dict[str, Any]], Event]], ...
] = (
    (lambda doc: "specversion" in doc, _structured),
    (lambda doc: isinstance(doc.get("message"), dict) and "subscription" in doc, _push),
)


# -- Cloud Storage: object finalized -----------------------------------------------


def storage_object(event: Event) -> dict[str, Any] | None:
    """The object resource (JSON API v1) of a finalized upload; None for other notifications."""
    return _dispatch(_UPLOAD_DECODERS, event)


def _object_from_cloudevent(event: Event) -> dict[str, Any] | None:
    return _object_resource(_json_object(event.data, "the storage event data"))


def _object_from_notification(event: Event) -> dict[str, Any] | None:
    message = pubsub_message(event)
    kind = message.attributes.get("eventType")
    if kind is None:
        raise MalformedEvent(
            "the Pub/Sub message is not a Cloud Storage notification (no eventType)"
        )
    if kind != NOTIFICATION_FINALIZE:
        return None  # deletes, archives, metadata updates: not an upload
    payload_format = message.attributes.get("payloadFormat", NOTIFICATION_FORMAT)
    if payload_format != NOTIFICATION_FORMAT:
        raise MalformedEvent(
            f"the storage notification has payload format {payload_format!r}; configure"
            f" {NOTIFICATION_FORMAT} so the message carries the object resource"
        )
    return _object_resource(_json_object(message.data, "the storage notification payload"))


def _object_resource(resource: dict[str, Any]) -> dict[str, Any]:
    for key in ("bucket", "name"):
        if not isinstance(resource.get(key), str) or not resource[key]:
            raise MalformedEvent(f"the object resource has no {key!r}")
    return resource


_UPLOAD_DECODERS: dict[str, Callable[[Event], dict[str, Any] | None]] = {
    STORAGE_FINALIZED: _object_from_cloudevent,
    PUBSUB_PUBLISHED: _object_from_notification,
}


# -- Firestore: document created ---------------------------------------------------

# A serialized DocumentEventData starts with the tag of field 1, 2 or 3 (0x0a, 0x12,
# 0x1a), none of which is a base64 character; the Firestore emulator sends the
# same bytes base64-encoded, so the first byte tells the two apart.
_BASE64_FIRST = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
_DOCUMENTS = re.compile(r"^projects/[^/]+/databases/[^/]+/documents/(?P<path>.+)$")


def firestore_document(event: Event) -> tuple[str, dict[str, Any]]:
    """``(path, fields as plain Python)`` of a created document, e.g. ``("jobs/<id>", {...})``."""
    return _dispatch(_DOCUMENT_DECODERS, event)


def _document_event(event: Event) -> tuple[str, dict[str, Any]]:
    content_type = (event.content_type or "application/protobuf").split(";")[0].strip().lower()
    parse = _DOCUMENT_PARSERS.get(content_type)
    if parse is None:
        raise MalformedEvent(
            f"Firestore event data of type {content_type!r}; expected one of"
            f" {', '.join(sorted(_DOCUMENT_PARSERS))}"
        )
    data = parse(event.data)
    if not data.HasField("value"):
        raise MalformedEvent("the Firestore event carries no document (no 'value')")
    path = _document_path(data.value.name, event)
    return path, _plain_fields(data.value.fields)


def _parse_protobuf(raw: bytes) -> Any:
    if raw[:1] and raw[0] in _BASE64_FIRST:
        raw = _b64decode(raw, "the Firestore event data")
    message = DocumentEventData.pb()()
    try:
        message.ParseFromString(raw)
    except DecodeError as exc:
        raise MalformedEvent(f"the Firestore event data is not a DocumentEventData: {exc}") from exc
    return message


def _parse_json(raw: bytes) -> Any:
    message = DocumentEventData.pb()()
    try:
        json_format.Parse(raw, message, ignore_unknown_fields=True)
    except (json_format.ParseError, UnicodeDecodeError) as exc:
        raise MalformedEvent(f"the Firestore event data is not a DocumentEventData: {exc}") from exc
    return message


_DOCUMENT_PARSERS: dict[str, Callable[[bytes], Any]] = {
    "application/protobuf": _parse_protobuf,
    "application/json": _parse_json,
}


def _document_path(name: str, event: Event) -> str:
    match = _DOCUMENTS.match(name)
    if match:
        return match["path"]
    document = event.extensions.get("document")
    if document:
        return document
    if event.subject and event.subject.startswith("documents/"):
        return event.subject[len("documents/") :]
    raise MalformedEvent("the Firestore event names no document")


_VALUE_DECODERS: dict[str, Callable[[Any], Any]] = {
    "null_value": lambda v: None,
    "boolean_value": lambda v: v.boolean_value,
    "integer_value": lambda v: v.integer_value,
    "double_value": lambda v: v.double_value,
    "timestamp_value": lambda v: v.timestamp_value.ToDatetime(tzinfo=UTC),
    "string_value": lambda v: v.string_value,
    "bytes_value": lambda v: v.bytes_value,
    "reference_value": lambda v: v.reference_value,
    "geo_point_value": lambda v: {
        "latitude": v.geo_point_value.latitude,
        "longitude": v.geo_point_value.longitude,
    },
    "array_value": lambda v: [plain_value(item) for item in v.array_value.values],
    "map_value": lambda v: _plain_fields(v.map_value.fields),
}


def plain_value(value: Any) -> Any:
    """A Firestore ``Value`` (protobuf) as plain Python."""
    kind = value.WhichOneof("value_type")
    return None if kind is None else _VALUE_DECODERS[kind](value)


def _plain_fields(fields: Mapping[str, Any]) -> dict[str, Any]:
    return {name: plain_value(value) for name, value in fields.items()}


_DOCUMENT_DECODERS: dict[str, Callable[[Event], tuple[str, dict[str, Any]]]] = {
    FIRESTORE_CREATED: _document_event,
}


# -- Pub/Sub: message published, or pushed -----------------------------------------


def pubsub_message(event: Event) -> Message:
    """The Pub/Sub message of a messagePublished CloudEvent or a push envelope."""
    return _dispatch(_MESSAGE_DECODERS, event)


def _message(event: Event) -> Message:
    envelope = _json_object(event.data, "the Pub/Sub event data")
    message = envelope.get("message")
    if not isinstance(message, dict):
        raise MalformedEvent("the Pub/Sub event data has no 'message' object")
    attributes = message.get("attributes") or {}
    if not isinstance(attributes, dict) or not all(isinstance(v, str) for v in attributes.values()):
        raise MalformedEvent("Pub/Sub message attributes must map strings to strings")
    message_id = str(message.get("messageId") or message.get("message_id") or event.id)
    published = message.get("publishTime") or message.get("publish_time") or event.time
    return Message(
        # A push delivery has no ack id: the HTTP answer is the acknowledgement.
        ack_id=message_id,
        message_id=message_id,
        data=_b64decode(message.get("data", ""), "the Pub/Sub message data"),
        attributes=dict(attributes),
        publish_time=parse_timestamp(published),
        delivery_attempt=_delivery_attempt(envelope.get("deliveryAttempt")),
    )


def _delivery_attempt(raw: Any) -> int | None:
    """Pub/Sub sends it when the subscription has a dead-letter policy (its emulator never)."""
    if raw is None:
        return None
    try:
        attempt = int(raw)
    except (TypeError, ValueError) as exc:
        raise MalformedEvent(f"deliveryAttempt {raw!r} is not a number") from exc
    return max(attempt, 1)


_MESSAGE_DECODERS: dict[str, Callable[[Event], Message]] = {PUBSUB_PUBLISHED: _message}


# -- shared ------------------------------------------------------------------------

_TIMESTAMP = re.compile(
    r"^(?P<base>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(?P<fraction>\d+))?(?P<zone>Z|[+-]\d{2}:\d{2})$"
)


def parse_timestamp(text: Any) -> datetime:
    """An RFC 3339 timestamp (any number of fractional digits) as an aware datetime."""
    match = _TIMESTAMP.match(str(text or ""))
    if not match:
        raise MalformedEvent(f"{text!r} is not an RFC 3339 timestamp")
    fraction = (match["fraction"] or "0")[:6].ljust(6, "0")
    zone = "+00:00" if match["zone"] == "Z" else match["zone"]
    return datetime.fromisoformat(f"{match['base']}.{fraction}{zone}").astimezone(UTC)


def _dispatch(table: Mapping[str, Callable[[Event], Any]], event: Event) -> Any:
    decode = table.get(event.type)
    if decode is None:
        raise UnexpectedEventType(
            f"this function handles {' or '.join(sorted(table))} events, not {event.type!r}"
        )
    return decode(event)


def _json_object(raw: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedEvent(f"{what} is not JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise MalformedEvent(f"{what} is not a JSON object")
    return value


def _b64decode(text: Any, what: str) -> bytes:
    try:
        return base64.b64decode(
            text.strip() if isinstance(text, str | bytes) else text, validate=True
        )
    except (binascii.Error, TypeError, ValueError) as exc:
        raise MalformedEvent(f"{what} is not valid base64") from exc


def _require(attributes: Mapping[str, Any], names: tuple[str, ...], what: str) -> None:
    missing = [name for name in names if not attributes.get(name)]
    if missing:
        raise MalformedEvent(f"the {what} lack {', '.join(missing)}")
