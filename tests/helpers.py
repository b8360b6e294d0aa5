"""Helpers shared by tests: drive the pipeline and wait for jobs, with bounded waits."""

from __future__ import annotations

import time
from typing import Any

from tributary import jobs
from tributary.backend import Backend
from tributary.ports import Bus, Message, SubscriptionConfig


def wait_for(predicate: Any, timeout: float = 30.0, interval: float = 0.02) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail the test on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")


def job(backend: Backend, job_id: str) -> dict[str, Any] | None:
    return backend.documents.get(jobs.job_path(job_id))


def wait_terminal(backend: Backend, job_id: str, timeout: float = 30.0) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        doc = job(backend, job_id)
        return doc if doc and doc.get("state") in jobs.TERMINAL_STATES else None

    result: dict[str, Any] = wait_for(done, timeout)
    return result


class DuplicatingBus:
    """A bus that delivers every published message twice, as Pub/Sub may."""

    def __init__(self, inner: Bus) -> None:
        self._inner = inner

    def publish(self, topic: str, data: bytes, attributes: dict[str, str] | None = None) -> str:
        self._inner.publish(topic, data, attributes)
        return self._inner.publish(topic, data, attributes)

    def publish_in_transaction(
        self, txn: object, topic: str, data: bytes, attributes: dict[str, str]
    ) -> str | None:
        """Twice too, when the inner bus publishes inside document transactions."""
        publish_in = getattr(self._inner, "publish_in_transaction", None)
        if publish_in is None or publish_in(txn, topic, data, attributes) is None:
            return None
        return str(publish_in(txn, topic, data, attributes))

    def create_topic(self, topic: str) -> None:
        self._inner.create_topic(topic)

    def create_subscription(self, config: SubscriptionConfig) -> None:
        self._inner.create_subscription(config)

    def pull(
        self, subscription: str, max_messages: int = 10, timeout: float = 0.0
    ) -> list[Message]:
        return self._inner.pull(subscription, max_messages, timeout)

    def ack(self, subscription: str, ack_ids: list[str]) -> None:
        self._inner.ack(subscription, ack_ids)

    def nack(self, subscription: str, ack_ids: list[str]) -> None:
        self._inner.nack(subscription, ack_ids)

    def modify_ack_deadline(self, subscription: str, ack_ids: list[str], seconds: float) -> None:
        self._inner.modify_ack_deadline(subscription, ack_ids, seconds)

    def seek(self, subscription: str, time: Any) -> int | None:
        return self._inner.seek(subscription, time)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)
