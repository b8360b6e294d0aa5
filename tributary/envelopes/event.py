"""The decoded form of one HTTP delivery, the errors of decoding, and shared helpers."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tributary.errors import PermanentError

STORAGE_FINALIZED = "google.cloud.storage.object.v1.finalized"
FIRESTORE_CREATED = "google.cloud.firestore.document.v1.created"
PUBSUB_PUBLISHED = "google.cloud.pubsub.topic.v1.messagePublished"


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


def dispatch(table: Mapping[str, Callable[[Event], Any]], event: Event) -> Any:
    """Decode ``event`` with the table's decoder for its type; refuse other types."""
    decode = table.get(event.type)
    if decode is None:
        raise UnexpectedEventType(
            f"this function handles {' or '.join(sorted(table))} events, not {event.type!r}"
        )
    return decode(event)


def json_object(raw: bytes, what: str) -> dict[str, Any]:
    """``raw`` as a JSON object, or MalformedEvent naming ``what`` it is."""
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedEvent(f"{what} is not JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise MalformedEvent(f"{what} is not a JSON object")
    return value


def b64decode(text: Any, what: str) -> bytes:
    """Strict base64, or MalformedEvent naming ``what`` it is."""
    try:
        return base64.b64decode(
            text.strip() if isinstance(text, str | bytes) else text, validate=True
        )
    except (binascii.Error, TypeError, ValueError) as exc:
        raise MalformedEvent(f"{what} is not valid base64") from exc


def require(attributes: Mapping[str, Any], names: tuple[str, ...], what: str) -> None:
    """MalformedEvent unless every one of ``names`` is set."""
    missing = [name for name in names if not attributes.get(name)]
    if missing:
        raise MalformedEvent(f"the {what} lack {', '.join(missing)}")
