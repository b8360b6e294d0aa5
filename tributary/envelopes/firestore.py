"""Firestore: the path and fields of a created document.

The event data is a ``DocumentEventData``: protobuf from Eventarc, JSON in a
structured CloudEvent, base64-encoded protobuf from the Firestore emulator.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import UTC
from typing import Any

from google.events.cloud.firestore_v1 import DocumentEventData
from google.protobuf import json_format
from google.protobuf.message import DecodeError

from tributary.envelopes.event import (
    FIRESTORE_CREATED,
    Event,
    MalformedEvent,
    b64decode,
    dispatch,
)

# A serialized DocumentEventData starts with the tag of field 1, 2 or 3 (0x0a, 0x12,
# 0x1a), none of which is a base64 character; the Firestore emulator sends the
# same bytes base64-encoded, so the first byte tells the two apart.
_BASE64_FIRST = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
_DOCUMENTS = re.compile(r"^projects/[^/]+/databases/[^/]+/documents/(?P<path>.+)$")


def firestore_document(event: Event) -> tuple[str, dict[str, Any]]:
    """``(path, fields as plain Python)`` of a created document, e.g. ``("jobs/<id>", {...})``."""
    return dispatch(_DOCUMENT_DECODERS, event)


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
        raw = b64decode(raw, "the Firestore event data")
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
