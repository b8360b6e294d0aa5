"""Subscription policies of the embedded bus, kept as Pub/Sub keeps them.

A dead-letter policy allows 5 to 100 delivery attempts (5 when unset), and a
message it gives up on carries the attributes Pub/Sub adds to dead letters.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime

from tributary.clock import from_epoch
from tributary.errors import ConfigError
from tributary.ports import (
    DLQ_DELIVERY_ATTEMPTS,
    DLQ_SOURCE_PUBLISH_TIME,
    DLQ_SOURCE_SUBSCRIPTION,
    MAX_DELIVERY_ATTEMPTS,
    MIN_DELIVERY_ATTEMPTS,
    SubscriptionConfig,
)


def max_attempts(config: SubscriptionConfig) -> int | None:
    """The dead-letter policy's attempts, refused outside Pub/Sub's bounds (5 when unset)."""
    if not config.dead_letter_topic:
        return config.max_delivery_attempts
    attempts = config.max_delivery_attempts or MIN_DELIVERY_ATTEMPTS
    if not MIN_DELIVERY_ATTEMPTS <= attempts <= MAX_DELIVERY_ATTEMPTS:
        raise ConfigError(
            f"subscription {config.name}: max_delivery_attempts must be in"
            f" {MIN_DELIVERY_ATTEMPTS}..{MAX_DELIVERY_ATTEMPTS}, as on Pub/Sub (got {attempts})"
        )
    return attempts


def exhausted(subscription: sqlite3.Row, attempts: int) -> bool:
    """Whether a message delivered ``attempts`` times goes to the dead-letter topic now."""
    limit = subscription["max_attempts"]
    return bool(subscription["dead_letter_topic"]) and limit is not None and attempts >= limit


def dead_letter_attributes(subscription: sqlite3.Row, delivery: sqlite3.Row) -> dict[str, str]:
    """The message's attributes plus those Pub/Sub adds when it dead-letters one."""
    attributes: dict[str, str] = json.loads(delivery["attributes"])
    attributes.update(
        {
            DLQ_SOURCE_SUBSCRIPTION: subscription["name"],
            DLQ_DELIVERY_ATTEMPTS: str(delivery["attempts"]),
            DLQ_SOURCE_PUBLISH_TIME: _pubsub_time(from_epoch(delivery["publish_time"])),
        }
    )
    return attributes


def config_from_row(row: sqlite3.Row) -> SubscriptionConfig:
    """The ``SubscriptionConfig`` a row of the ``subscriptions`` table holds."""
    return SubscriptionConfig(
        name=row["name"],
        topic=row["topic"],
        ack_deadline_s=row["ack_deadline_s"],
        max_delivery_attempts=row["max_attempts"],
        dead_letter_topic=row["dead_letter_topic"],
        min_backoff_s=row["min_backoff_s"],
        max_backoff_s=row["max_backoff_s"],
        retain_acked=bool(row["retain_acked"]),
    )


def _pubsub_time(moment: datetime) -> str:
    """A timestamp as Pub/Sub writes it in attributes: UTC, milliseconds, ``Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
