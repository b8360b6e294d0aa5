"""The ports the core talks to. Adapters (local, gcp) implement them.

Semantics follow the Google Cloud services they stand for: Cloud Storage
generations, Firestore documents and transactions, Pub/Sub at-least-once
delivery with ack deadlines, dead-letter topics and seek.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

Document = dict[str, Any]

# Attributes Pub/Sub sets on a message it moves to a dead-letter topic, which every
# backend sets. (Pub/Sub also names the subscription's project; it does not keep the
# source message id: the dead letter is a new message with an id of its own.)
DLQ_SOURCE_SUBSCRIPTION = "CloudPubSubDeadLetterSourceSubscription"
DLQ_DELIVERY_ATTEMPTS = "CloudPubSubDeadLetterSourceDeliveryCount"
DLQ_SOURCE_PUBLISH_TIME = "CloudPubSubDeadLetterSourceTopicPublishTime"
# Pub/Sub's bounds on a dead-letter policy's max_delivery_attempts; every backend refuses others.
MIN_DELIVERY_ATTEMPTS, MAX_DELIVERY_ATTEMPTS = 5, 100


@dataclass(frozen=True)
class BlobInfo:
    """Metadata of one object generation."""

    bucket: str
    name: str
    generation: int
    size: int
    content_type: str | None
    sha256: str
    updated: datetime
    metadata: dict[str, str] = field(default_factory=dict)


class BlobStore(Protocol):
    """One bucket of immutable object generations."""

    bucket: str

    def put(
        self,
        name: str,
        data: bytes,
        *,
        content_type: str | None = None,
        metadata: dict[str, str] | None = None,
    ) -> BlobInfo:
        """Write a new generation of ``name``."""
        ...

    def get(
        self, name: str, generation: int | None = None, *, max_bytes: int | None = None
    ) -> bytes:
        """Read an object (the latest generation by default). Raises NotFound."""
        ...

    def stat(self, name: str) -> BlobInfo | None:
        """Metadata of the latest generation, or None."""
        ...

    def list(self, prefix: str = "") -> Iterator[BlobInfo]:
        """Latest generations of the objects under ``prefix``, by name."""
        ...


@dataclass(frozen=True)
class Change:
    """One change of one document, as a watcher sees it."""

    path: str
    kind: str  # "created" | "updated" | "deleted"
    data: Document | None
    seq: int
    at: datetime


class Transaction(Protocol):
    def get(self, path: str) -> Document | None: ...

    def set(self, path: str, data: Document) -> None: ...

    def create(self, path: str, data: Document) -> None:
        """Create; raises AlreadyExists if the document exists."""
        ...


class Watch(Protocol):
    def close(self) -> None: ...


class DocumentStore(Protocol):
    """Documents addressed by slash paths (``collection/id[/sub/id…]``)."""

    def get(self, path: str) -> Document | None: ...

    def create(self, path: str, data: Document) -> bool:
        """Create if absent; False (and nothing written) if it exists."""
        ...

    def set(self, path: str, data: Document) -> None: ...

    def merge(self, path: str, data: Document) -> None:
        """Deep-merge ``data`` into the document (creating it if needed)."""
        ...

    def delete(self, path: str) -> None: ...

    def transaction(self) -> AbstractContextManager[Transaction]:
        """A serializable read-modify-write scope; commits on exit."""
        ...

    def query(
        self,
        collection: str,
        where: list[tuple[str, str, Any]] | None = None,
        order_by: str | None = None,
        descending: bool = False,
        limit: int | None = None,
    ) -> list[tuple[str, Document]]:
        """Documents of a collection matching all ``(field, op, value)`` filters."""
        ...

    def watch(self, path: str, callback: Callable[[Change], None]) -> Watch:
        """Call ``callback`` for the current state and then every change, in order."""
        ...


@dataclass(frozen=True)
class Message:
    """A received message.

    ``delivery_attempt`` starts at 1; it is None when the transport did not say (a
    Pub/Sub push to a subscription without a dead-letter policy, or the emulator's push).
    """

    ack_id: str
    message_id: str
    data: bytes
    attributes: dict[str, str]
    publish_time: datetime
    delivery_attempt: int | None


@dataclass(frozen=True)
class SubscriptionConfig:
    """A pull subscription's policies. ``max_delivery_attempts`` applies with a dead-letter topic."""

    name: str
    topic: str
    ack_deadline_s: float = 30.0
    max_delivery_attempts: int | None = None
    dead_letter_topic: str | None = None
    min_backoff_s: float = 0.5
    max_backoff_s: float = 60.0
    retain_acked: bool = False


class Bus(Protocol):
    """Topics and pull subscriptions with at-least-once delivery."""

    def create_topic(self, topic: str) -> None: ...

    def create_subscription(self, config: SubscriptionConfig) -> None: ...

    def publish(self, topic: str, data: bytes, attributes: dict[str, str] | None = None) -> str:
        """Publish durably; returns the message id."""
        ...

    def pull(
        self, subscription: str, max_messages: int = 10, timeout: float = 0.0
    ) -> list[Message]:
        """Lease up to ``max_messages``; wait up to ``timeout`` seconds for one."""
        ...

    def ack(self, subscription: str, ack_ids: list[str]) -> None: ...

    def nack(self, subscription: str, ack_ids: list[str]) -> None:
        """Give messages back: redelivered after the subscription's backoff."""
        ...

    def modify_ack_deadline(self, subscription: str, ack_ids: list[str], seconds: float) -> None:
        """Extend the lease of messages still being worked on (0 gives them back now)."""
        ...

    def seek(self, subscription: str, time: datetime) -> int | None:
        """Redeliver retained messages published at or after ``time``.

        Returns how many, where the backend knows (Pub/Sub does not say: None).
        """
        ...

    def create_snapshot(self, snapshot: str, subscription: str) -> None:
        """Remember which of the subscription's messages are not acknowledged yet."""
        ...

    def seek_to_snapshot(self, subscription: str, snapshot: str) -> int | None:
        """Restore the acknowledgement state ``snapshot`` captured (count where known)."""
        ...


class Clock(Protocol):
    def now(self) -> datetime: ...

    def sleep(self, seconds: float) -> None: ...
