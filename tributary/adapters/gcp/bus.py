"""The Bus port on Cloud Pub/Sub: topics, pull subscriptions, retry and dead-letter policies.

A publish is one Publish request, sent at once: every caller waits for its
message to be stored anyway, and the client's batcher would hold each one for its
batch latency and hand it between two threads first (about 10 ms a publish on the
emulator, one stage hop each). Pulls are
synchronous: the runner asks for a few messages at a time and acks or nacks
each. A nack is ``ModifyAckDeadline 0``, so the subscription's retry policy
(exponential backoff) and dead-letter policy apply to it, as they do to an
expired lease.

Where Pub/Sub differs from the port, and what this adapter does about it:

- ``delivery_attempt`` is reported only on subscriptions with a dead-letter
  policy; elsewhere this process counts the deliveries it has seen
  (:mod:`tributary.adapters.gcp.deliveries`).
- ``seek`` cannot say how many messages it replays: it returns None.
- Pub/Sub requires ``max_delivery_attempts`` in 5..100 and ack deadlines in
  10..600 s; other values are refused (``ConfigError``).

Emulator gap bridged here (only when ``emulator_host`` is set): the emulator's
retry policy is erratic (a nacked message returns after 0-4 s whatever the
configured backoff, in whole seconds). Subscriptions are therefore created there
without a retry policy, which makes the emulator redeliver exactly when a lease
ends, and a nack gives the message back with ``ModifyAckDeadline(backoff)``: the
backoff the local bus applies (``min * 2**(attempt-1)``, capped at max, rounded
up to whole seconds). A message on its last allowed attempt is given back at
once, so the next pull moves it to the dead-letter topic. (The emulator does
dead-letter, and reports ``delivery_attempt``, like production.)
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
import time
from datetime import UTC, datetime
from typing import Any

from google.api_core import exceptions as api
from google.protobuf import timestamp_pb2

from tributary.adapters.gcp import clients, rpc
from tributary.adapters.gcp.deliveries import DeliveryLog, backoff_s
from tributary.adapters.gcp.errors import translated
from tributary.adapters.gcp.subscriptions import (
    MAX_RETENTION_S,
    config_from_resource,
    subscription_resource,
    updatable_fields,
)
from tributary.ports import MIN_DELIVERY_ATTEMPTS, Message, SubscriptionConfig

_log = logging.getLogger("tributary.gcp.bus")

_MAX_ACK_DEADLINE_S = 600
# Polling for messages: fast at first, then backing off while the subscription is idle.
_POLL_START_S, _POLL_MAX_S = 0.02, 0.25


class PubSubBus:
    """The :class:`tributary.ports.Bus` on Cloud Pub/Sub (or its emulator)."""

    def __init__(
        self, project: str, *, emulator_host: str = "", retention_s: float = MAX_RETENTION_S
    ) -> None:
        self.project = project
        self.emulator = bool(emulator_host)
        self._host = emulator_host
        self._retention_s = retention_s
        self._configs: dict[str, SubscriptionConfig] = {}
        self._configs_lock = threading.Lock()
        self._deliveries = DeliveryLog()
        self._poll_interval: dict[str, float] = {}

    # -- names and clients ---------------------------------------------------

    def topic_path(self, topic: str) -> str:
        return f"projects/{self.project}/topics/{topic}"

    def subscription_path(self, subscription: str) -> str:
        return f"projects/{self.project}/subscriptions/{subscription}"

    @property
    def _publisher(self) -> Any:
        return clients.publisher(self.project, self._host)

    @property
    def _subscriber(self) -> Any:
        return clients.subscriber(self.project, self._host)

    # -- admin ---------------------------------------------------------------

    def create_topic(self, topic: str) -> None:
        with translated(f"create topic {topic}"), contextlib.suppress(api.AlreadyExists):
            self._publisher.create_topic(name=self.topic_path(topic))

    def create_subscription(self, config: SubscriptionConfig) -> None:
        """Create the subscription, or bring an existing one's policies in line with ``config``."""
        resource = subscription_resource(
            config, self.project, retention_s=self._retention_s, emulator=self.emulator
        )
        with translated(f"create subscription {config.name}"):
            try:
                self._subscriber.create_subscription(request=resource)
            except api.AlreadyExists:
                mask = {"paths": updatable_fields(emulator=self.emulator)}
                self._subscriber.update_subscription(
                    request={"subscription": resource, "update_mask": mask}
                )
        with self._configs_lock:
            self._configs[config.name] = config

    def subscription(self, name: str) -> SubscriptionConfig:
        """The policy of a subscription (from this process's cache, else from Pub/Sub)."""
        with self._configs_lock:
            cached = self._configs.get(name)
        if cached is not None:
            return cached
        with translated(f"get subscription {name}"):
            found = self._subscriber.get_subscription(subscription=self.subscription_path(name))
        config = config_from_resource(name, found)
        with self._configs_lock:
            self._configs[name] = config
        return config

    # -- publish -------------------------------------------------------------

    def publish(self, topic: str, data: bytes, attributes: dict[str, str] | None = None) -> str:
        from google.pubsub_v1 import types

        request = types.PublishRequest(
            topic=self.topic_path(topic),
            messages=[types.PubsubMessage(data=data, attributes=dict(attributes or {}))],
        )
        publish = rpc.wrapped(
            self._publisher.transport.publish, rpc.PUBLISH_TIMEOUT_S, rpc.PUBLISH_RETRY
        )
        with translated(f"publish to {topic}"):
            response = publish(request, metadata=rpc.routing("topic", request.topic))
        return str(response.message_ids[0])

    # -- consume -------------------------------------------------------------

    def pull(
        self, subscription: str, max_messages: int = 10, timeout: float = 0.0
    ) -> list[Message]:
        give_up = time.monotonic() + timeout
        while True:
            received = self._pull_now(subscription, max_messages)
            if received:
                self._poll_interval.pop(subscription, None)
                return [self._message(subscription, r) for r in received]
            remaining = give_up - time.monotonic()
            if remaining <= 0:
                return []
            # Polls slow down while a subscription stays idle, across calls: an idle
            # runner then costs a few requests a second per consumer, not dozens.
            interval = self._poll_interval.get(subscription, _POLL_START_S)
            time.sleep(min(interval, remaining))
            self._poll_interval[subscription] = min(interval * 2, _POLL_MAX_S)

    def _pull_now(self, subscription: str, max_messages: int) -> list[Any]:
        """One pull that returns at once, with whatever is available.

        A pull that waits server-side and is cut short by a client deadline can
        lose the messages it leased in flight (they come back only after their ack
        deadline, one attempt later), so this asks for an immediate answer and
        polls. The client's ``pull`` method warns on every such request; calling
        the transport's RPC through the same error-mapping wrapper avoids that.
        """
        from google.pubsub_v1 import types

        request = types.PullRequest(
            subscription=self.subscription_path(subscription),
            max_messages=max_messages,
            return_immediately=True,
        )
        pull = rpc.wrapped(self._subscriber.transport.pull, rpc.RPC_TIMEOUT_S)
        with translated(f"pull from {subscription}"):
            response = pull(request, metadata=rpc.routing("subscription", request.subscription))
        return list(response.received_messages)

    def _message(self, subscription: str, received: Any) -> Message:
        message = received.message
        attempt = self._deliveries.delivered(
            subscription, message.message_id, received.ack_id, received.delivery_attempt
        )
        return Message(
            ack_id=received.ack_id,
            message_id=message.message_id,
            data=bytes(message.data),
            attributes=dict(message.attributes),
            publish_time=datetime.fromtimestamp(message.publish_time.timestamp(), UTC),
            delivery_attempt=attempt,
        )

    def ack(self, subscription: str, ack_ids: list[str]) -> None:
        if not ack_ids:
            return
        with translated(f"ack on {subscription}"):
            try:
                self._subscriber.acknowledge(
                    subscription=self.subscription_path(subscription), ack_ids=ack_ids
                )
            except api.InvalidArgument as exc:
                # Acking what is already acked or expired is harmless, as everywhere.
                _log.debug(
                    "ack ignored on %s: %s",
                    subscription,
                    exc,
                    extra={"event": "ack_ignored", "subscription": subscription},
                )
        self._deliveries.acked(subscription, ack_ids)

    def nack(self, subscription: str, ack_ids: list[str]) -> None:
        """Give messages back; the retry policy decides when they return."""
        if not self.emulator:
            self.modify_ack_deadline(subscription, ack_ids, 0)
            self._deliveries.returned(subscription, ack_ids)
            return
        config = self.subscription(subscription)
        by_delay: dict[int, list[str]] = {}
        for ack_id in ack_ids:
            attempt = self._deliveries.attempt_of(subscription, ack_id) or 1
            last = bool(config.dead_letter_topic) and attempt >= (
                config.max_delivery_attempts or MIN_DELIVERY_ATTEMPTS
            )
            delay = 0 if last else backoff_s(attempt, config.min_backoff_s, config.max_backoff_s)
            by_delay.setdefault(math.ceil(delay), []).append(ack_id)
        for delay, group in by_delay.items():
            self.modify_ack_deadline(subscription, group, delay)
        self._deliveries.returned(subscription, ack_ids)

    def modify_ack_deadline(self, subscription: str, ack_ids: list[str], seconds: float) -> None:
        """Extend (or, with 0, end) the lease of messages still being worked on."""
        if not ack_ids:
            return
        deadline = min(max(math.ceil(seconds), 0), _MAX_ACK_DEADLINE_S)
        with translated(f"modify ack deadline on {subscription}"):
            try:
                self._subscriber.modify_ack_deadline(
                    subscription=self.subscription_path(subscription),
                    ack_ids=ack_ids,
                    ack_deadline_seconds=deadline,
                )
            except api.InvalidArgument as exc:
                _log.debug(
                    "ack deadline change ignored on %s: %s",
                    subscription,
                    exc,
                    extra={"event": "ack_deadline_ignored", "subscription": subscription},
                )

    # -- replay --------------------------------------------------------------

    def seek(self, subscription: str, time: datetime) -> None:
        """Seek to a time: retained messages published since are redelivered, older ones acked.

        Pub/Sub does not report how many messages that replays.
        """
        stamp = timestamp_pb2.Timestamp()
        stamp.FromDatetime(time.astimezone(UTC).replace(tzinfo=None))
        with translated(f"seek {subscription}"):
            self._subscriber.seek(
                request={"subscription": self.subscription_path(subscription), "time": stamp}
            )
        self._deliveries.forget_subscription(subscription)

    def create_snapshot(self, snapshot: str, subscription: str) -> None:
        """Capture the subscription's acknowledgement state, to seek back to it later."""
        with translated(f"snapshot {subscription}"):
            self._subscriber.create_snapshot(
                request={
                    "name": f"projects/{self.project}/snapshots/{snapshot}",
                    "subscription": self.subscription_path(subscription),
                }
            )

    def seek_to_snapshot(self, subscription: str, snapshot: str) -> None:
        """Restore the acknowledgement state a snapshot captured."""
        with translated(f"seek {subscription} to snapshot {snapshot}"):
            self._subscriber.seek(
                request={
                    "subscription": self.subscription_path(subscription),
                    "snapshot": f"projects/{self.project}/snapshots/{snapshot}",
                }
            )
        self._deliveries.forget_subscription(subscription)
