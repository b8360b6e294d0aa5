"""Every event form a Cloud Function receives, decoded into the core's inputs.

An HTTP delivery is first read into an :class:`Event` (CloudEvent attributes and
the raw data bytes), whatever its form (:mod:`.delivery`): a binary or structured
CloudEvent, or a raw Pub/Sub push envelope.

Then one decoder per event type turns the event into what the core takes:
the object resource for :func:`tributary.intake.job_from_upload` (:mod:`.storage`),
the document path and plain dict for :func:`tributary.intake.job_from_query`
(:mod:`.firestore`), or a :class:`tributary.ports.Message` for the stage harness
and the dead-letter handler (:mod:`.pubsub`). Both steps are driven by lookup
tables; anything that does not fit raises :class:`UnexpectedEventType` or
:class:`MalformedEvent`, which the edge answers with 400.
"""

from tributary.envelopes.delivery import read_event
from tributary.envelopes.event import (
    FIRESTORE_CREATED,
    PUBSUB_PUBLISHED,
    STORAGE_FINALIZED,
    Event,
    EventError,
    MalformedEvent,
    UnexpectedEventType,
)
from tributary.envelopes.firestore import firestore_document, plain_value
from tributary.envelopes.pubsub import parse_timestamp, pubsub_message
from tributary.envelopes.storage import (
    NOTIFICATION_FINALIZE,
    NOTIFICATION_FORMAT,
    storage_object,
)

__all__ = [
    "FIRESTORE_CREATED",
    "NOTIFICATION_FINALIZE",
    "NOTIFICATION_FORMAT",
    "PUBSUB_PUBLISHED",
    "STORAGE_FINALIZED",
    "Event",
    "EventError",
    "MalformedEvent",
    "UnexpectedEventType",
    "firestore_document",
    "parse_timestamp",
    "plain_value",
    "pubsub_message",
    "read_event",
    "storage_object",
]
