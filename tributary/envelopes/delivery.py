"""Reading an HTTP delivery into an :class:`Event`, whatever its form.

- a CloudEvent in *binary* mode (``ce-*`` headers, the data is the body): what
  Eventarc sends for Cloud Storage, Firestore and Pub/Sub triggers;
- a CloudEvent in *structured* mode (one JSON object with ``data`` or
  ``data_base64``);
- a raw Pub/Sub *push* envelope ``{message, subscription, deliveryAttempt}``,
  which becomes the ``messagePublished`` event it is the data of.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from tributary.envelopes.event import (
    PUBSUB_PUBLISHED,
    Event,
    MalformedEvent,
    b64decode,
    json_object,
    require,
)

_CE_HEADER = "ce-"
_CORE_ATTRIBUTES = ("id", "source", "type", "specversion", "subject", "time", "datacontenttype")


def read_event(headers: Mapping[str, str], body: bytes) -> Event:
    """The event carried by one HTTP request, in any of the forms above."""
    lowered = {name.lower(): value for name, value in headers.items()}
    if _CE_HEADER + "specversion" in lowered:
        return _binary(lowered, body)
    envelope = json_object(body, "the request body")
    for matches, build in _JSON_FORMS:
        if matches(envelope):
            return build(envelope)
    raise MalformedEvent(
        "the request is neither a CloudEvent (binary or structured mode) nor a Pub/Sub push"
        " envelope {message, subscription}"
    )


def _binary(headers: Mapping[str, str], body: bytes) -> Event:
    attributes = {k[len(_CE_HEADER) :]: v for k, v in headers.items() if k.startswith(_CE_HEADER)}
    require(attributes, ("id", "source", "type"), "binary-mode CloudEvent headers (ce-*)")
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
    require(envelope, ("id", "source", "type"), "structured-mode CloudEvent")
    if "data_base64" in envelope:
        data = b64decode(envelope["data_base64"], "data_base64")
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
