"""Subscription policies between the port's ``SubscriptionConfig`` and Pub/Sub resources.

The retry policy's backoff is also written as labels: on the emulator the
subscription gets no retry policy (see :mod:`tributary.adapters.gcp.bus`), and
another process nacking there must still find the configured backoff. The
emulator cannot update labels, so there they keep the values the subscription
was created with.
"""

from __future__ import annotations

import math
from typing import Any

from google.protobuf import duration_pb2

from tributary.ports import SubscriptionConfig

MIN_RETENTION_S, MAX_RETENTION_S = 600.0, 7 * 24 * 3600.0
MIN_BACKOFF_LABEL, MAX_BACKOFF_LABEL = "tributary-min-backoff-ms", "tributary-max-backoff-ms"
# Pub/Sub's defaults when a subscription has no retry policy / dead-letter attempts.
_DEFAULT_MIN_BACKOFF_S, _DEFAULT_MAX_BACKOFF_S, _DEFAULT_MAX_ATTEMPTS = 10.0, 600.0, 5


def subscription_resource(
    config: SubscriptionConfig, project: str, *, retention_s: float, emulator: bool
) -> dict[str, Any]:
    """The Pub/Sub subscription resource for ``config`` in ``project``."""
    retention = min(max(retention_s, MIN_RETENTION_S), MAX_RETENTION_S)
    resource: dict[str, Any] = {
        "name": f"projects/{project}/subscriptions/{config.name}",
        "topic": f"projects/{project}/topics/{config.topic}",
        "ack_deadline_seconds": math.ceil(config.ack_deadline_s),
        "retain_acked_messages": config.retain_acked,
        "message_retention_duration": _duration(retention),
        "labels": {
            MIN_BACKOFF_LABEL: str(round(config.min_backoff_s * 1000)),
            MAX_BACKOFF_LABEL: str(round(config.max_backoff_s * 1000)),
        },
    }
    if not emulator:
        resource["retry_policy"] = {
            "minimum_backoff": _duration(config.min_backoff_s),
            "maximum_backoff": _duration(config.max_backoff_s),
        }
    if config.dead_letter_topic:
        resource["dead_letter_policy"] = {
            "dead_letter_topic": f"projects/{project}/topics/{config.dead_letter_topic}",
            # 0 asks Pub/Sub for its default (5).
            "max_delivery_attempts": config.max_delivery_attempts or 0,
        }
    return resource


def updatable_fields(*, emulator: bool) -> list[str]:
    """The fields an update brings in line with the config (the topic cannot change)."""
    fields = [
        "ack_deadline_seconds",
        "retain_acked_messages",
        "message_retention_duration",
        "dead_letter_policy",
    ]
    return fields if emulator else [*fields, "labels", "retry_policy"]


def config_from_resource(name: str, found: Any) -> SubscriptionConfig:
    """The ``SubscriptionConfig`` a Pub/Sub subscription resource describes."""
    policy = found.dead_letter_policy
    dead_letter = policy.dead_letter_topic.rsplit("/", 1)[-1] if policy.dead_letter_topic else None
    return SubscriptionConfig(
        name=name,
        topic=found.topic.rsplit("/", 1)[-1],
        ack_deadline_s=float(found.ack_deadline_seconds),
        max_delivery_attempts=(
            (policy.max_delivery_attempts or _DEFAULT_MAX_ATTEMPTS) if dead_letter else None
        ),
        dead_letter_topic=dead_letter,
        min_backoff_s=_backoff(found, "minimum_backoff", MIN_BACKOFF_LABEL, _DEFAULT_MIN_BACKOFF_S),
        max_backoff_s=_backoff(found, "maximum_backoff", MAX_BACKOFF_LABEL, _DEFAULT_MAX_BACKOFF_S),
        retain_acked=found.retain_acked_messages,
    )


def _duration(seconds: float) -> duration_pb2.Duration:
    whole = int(seconds)
    return duration_pb2.Duration(seconds=whole, nanos=round((seconds - whole) * 1e9))


def _backoff(subscription: Any, field: str, label: str, default: float) -> float:
    """A backoff bound: the retry policy's, else the label's, else Pub/Sub's default."""
    if "retry_policy" in subscription:
        # proto-plus turns Duration fields into timedelta.
        return float(getattr(subscription.retry_policy, field).total_seconds())
    if label in subscription.labels:
        return int(subscription.labels[label]) / 1000
    return default
