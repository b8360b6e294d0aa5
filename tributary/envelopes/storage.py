"""Cloud Storage: the object resource of a finalized upload.

Either Eventarc's ``object.v1.finalized`` CloudEvent, or the bucket's Pub/Sub
notification (``OBJECT_FINALIZE``, payload ``JSON_API_V1``), which the embedded
backend and the storage emulator bridge publish.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tributary.envelopes.event import (
    PUBSUB_PUBLISHED,
    STORAGE_FINALIZED,
    Event,
    MalformedEvent,
    dispatch,
    json_object,
)
from tributary.envelopes.pubsub import pubsub_message

# Cloud Storage notifications delivered through Pub/Sub (notification config).
NOTIFICATION_FINALIZE = "OBJECT_FINALIZE"
NOTIFICATION_FORMAT = "JSON_API_V1"


def storage_object(event: Event) -> dict[str, Any] | None:
    """The object resource (JSON API v1) of a finalized upload; None for other notifications."""
    return dispatch(_UPLOAD_DECODERS, event)


def _object_from_cloudevent(event: Event) -> dict[str, Any] | None:
    return _object_resource(json_object(event.data, "the storage event data"))


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
    return _object_resource(json_object(message.data, "the storage notification payload"))


def _object_resource(resource: dict[str, Any]) -> dict[str, Any]:
    for key in ("bucket", "name"):
        if not isinstance(resource.get(key), str) or not resource[key]:
            raise MalformedEvent(f"the object resource has no {key!r}")
    return resource


_UPLOAD_DECODERS: dict[str, Callable[[Event], dict[str, Any] | None]] = {
    STORAGE_FINALIZED: _object_from_cloudevent,
    PUBSUB_PUBLISHED: _object_from_notification,
}
