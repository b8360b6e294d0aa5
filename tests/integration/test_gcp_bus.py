"""What the gcp bus does beyond the shared contract: Pub/Sub's own rules and the emulator bridges."""

from __future__ import annotations

import time

import pytest

from tests.contract.support import pull_all, unique
from tributary.adapters.gcp.bus import PubSubBus
from tributary.backend import Backend
from tributary.emulators import start_pubsub
from tributary.errors import TransientError
from tributary.ports import DLQ_DELIVERY_ATTEMPTS, DLQ_SOURCE_SUBSCRIPTION, SubscriptionConfig


@pytest.fixture
def bus(gcp_backend: Backend) -> PubSubBus:
    assert isinstance(gcp_backend.bus, PubSubBus)
    return gcp_backend.bus


def _topic_and_subscription(bus: PubSubBus, **config: object) -> tuple[str, str]:
    topic, subscription = unique("topic"), unique("sub")
    bus.create_topic(topic)
    bus.create_subscription(
        SubscriptionConfig(name=subscription, topic=topic, ack_deadline_s=10.0, **config)  # type: ignore[arg-type]
    )
    return topic, subscription


def test_seek_to_a_time_replays_retained_messages_from_then_on(bus: PubSubBus) -> None:
    topic, subscription = _topic_and_subscription(bus, retain_acked=True)
    old = bus.publish(topic, b"old")
    time.sleep(1.0)
    new = bus.publish(topic, b"new")
    delivered = {m.message_id: m for m in pull_all(bus, subscription, 2)}
    bus.ack(subscription, [m.ack_id for m in delivered.values()])
    assert bus.pull(subscription, timeout=0.5) == []

    assert bus.seek(subscription, delivered[new].publish_time) is None, "Pub/Sub gives no count"
    replayed = pull_all(bus, subscription, 2, timeout=1.0)

    assert [m.message_id for m in replayed] == [new]
    assert old in delivered
    assert replayed[0].delivery_attempt == 1, "a replay counts its deliveries afresh"


def test_seek_to_a_snapshot_restores_what_was_unacknowledged_then(bus: PubSubBus) -> None:
    topic, subscription = _topic_and_subscription(bus, retain_acked=True)
    first = bus.publish(topic, b"first")
    snapshot = unique("snap")
    bus.create_snapshot(snapshot, subscription)
    (message,) = pull_all(bus, subscription, 1)
    bus.ack(subscription, [message.ack_id])

    bus.seek_to_snapshot(subscription, snapshot)

    assert [m.message_id for m in pull_all(bus, subscription, 1)] == [first]


def test_pub_sub_counts_attempts_and_dead_letters_with_its_own_attributes(
    bus: PubSubBus,
) -> None:
    dead_topic, dead_subscription = _topic_and_subscription(bus)
    topic, subscription = _topic_and_subscription(
        bus, dead_letter_topic=dead_topic, max_delivery_attempts=5, min_backoff_s=0.0
    )
    bus.publish(topic, b"poison", {"job_id": "j1"})

    attempts = []
    for _ in range(5):
        (message,) = pull_all(bus, subscription, 1)
        attempts.append(message.delivery_attempt)
        bus.nack(subscription, [message.ack_id])
    # The emulator moves an exhausted message when its subscription is next pulled
    # (Pub/Sub does it in the background); a consumer always pulls again.
    assert bus.pull(subscription, timeout=0.5) == []
    (dead,) = pull_all(bus, dead_subscription, 1, timeout=10)

    assert attempts == [1, 2, 3, 4, 5]
    assert dead.data == b"poison"
    assert dead.attributes["job_id"] == "j1"
    assert dead.attributes[DLQ_SOURCE_SUBSCRIPTION] == subscription
    assert dead.attributes[DLQ_DELIVERY_ATTEMPTS] == "5"
    assert dead.attributes["CloudPubSubDeadLetterSourceSubscriptionProject"] == bus.project


def test_another_process_nacking_finds_the_backoff_the_subscription_was_made_with(
    gcp_backend: Backend,
) -> None:
    bus = gcp_backend.bus
    assert isinstance(bus, PubSubBus)
    topic, subscription = _topic_and_subscription(bus, min_backoff_s=2.0, max_backoff_s=2.0)
    elsewhere = PubSubBus(bus.project, emulator_host=gcp_backend.settings.pubsub_emulator_host)
    bus.publish(topic, b"x")

    (message,) = pull_all(elsewhere, subscription, 1)
    elsewhere.nack(subscription, [message.ack_id])

    assert elsewhere.pull(subscription, timeout=1.5) == []
    assert len(pull_all(elsewhere, subscription, 1, timeout=2.0)) == 1


def test_attribute_names_the_batching_publisher_reserves_still_travel(bus: PubSubBus) -> None:
    topic, subscription = _topic_and_subscription(bus)
    attributes = {"topic": "t", "data": "d", "timeout": "5", "job_id": "j"}

    message_id = bus.publish(topic, b"payload", attributes)
    (message,) = pull_all(bus, subscription, 1)

    assert (message.message_id, message.attributes) == (message_id, attributes)


def test_an_unreachable_pub_sub_is_a_transient_error(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    pubsub = start_pubsub(log_dir=tmp_path_factory.mktemp("lonely-pubsub"))
    bus = PubSubBus(unique("gone"), emulator_host=pubsub.host_port)
    topic, subscription = _topic_and_subscription(bus)
    pubsub.stop()

    with pytest.raises(TransientError):
        bus.pull(subscription, timeout=0)
    assert topic
