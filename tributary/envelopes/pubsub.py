"""Pub/Sub: the message of a ``messagePublished`` CloudEvent or of a raw push."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from tributary.envelopes.event import (
    PUBSUB_PUBLISHED,
    Event,
    MalformedEvent,
    b64decode,
    dispatch,
    json_object,
)
from tributary.ports import Message


def pubsub_message(event: Event) -> Message:
    """The Pub/Sub message of a messagePublished CloudEvent or a push envelope."""
    return dispatch(_MESSAGE_DECODERS, event)


def _message(event: Event) -> Message:
    envelope = json_object(event.data, "the Pub/Sub event data")
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
        data=b64decode(message.get("data", ""), "the Pub/Sub message data"),
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
