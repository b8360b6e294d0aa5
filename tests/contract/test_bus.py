"""The Bus port: Pub/Sub pull semantics every backend must share."""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import datetime, timedelta

import pytest

from tests.contract.support import BackendUnderTest, pull_all, unique
from tributary.errors import ConfigError, NotFound
from tributary.ports import (
    DLQ_DELIVERY_ATTEMPTS,
    DLQ_SOURCE_PUBLISH_TIME,
    DLQ_SOURCE_SUBSCRIPTION,
    MAX_DELIVERY_ATTEMPTS,
    MIN_DELIVERY_ATTEMPTS,
    Bus,
    Message,
    SubscriptionConfig,
)

DEADLINE_S = 10.0


def _topic_with_subscription(bus: Bus, **config: object) -> tuple[str, str]:
    topic, subscription = unique("topic"), unique("sub")
    bus.create_topic(topic)
    options: dict = {"ack_deadline_s": DEADLINE_S, **config}
    bus.create_subscription(SubscriptionConfig(name=subscription, topic=topic, **options))
    return topic, subscription


def _pull_one(bus: Bus, subscription: str) -> Message:
    messages = bus.pull(subscription, max_messages=10, timeout=0)
    assert len(messages) == 1, f"expected exactly one message, got {messages}"
    return messages[0]


def test_published_message_is_pulled_with_its_data_and_attributes(
    under_test: BackendUnderTest,
) -> None:
    bus = under_test.backend.bus
    topic, subscription = _topic_with_subscription(bus)

    message_id = bus.publish(topic, b"\x00payload\xff", {"job_id": "j1", "stage": "preprocess"})
    message = _pull_one(bus, subscription)

    assert message.message_id == message_id
    assert message.data == b"\x00payload\xff"
    assert message.attributes == {"job_id": "j1", "stage": "preprocess"}
    assert message.delivery_attempt == 1
    bus.ack(subscription, [message.ack_id])
    under_test.let_time_pass(DEADLINE_S * 3)
    assert bus.pull(subscription, timeout=0) == []


def test_pull_returns_at_most_max_messages_and_each_once(under_test: BackendUnderTest) -> None:
    bus = under_test.backend.bus
    topic, subscription = _topic_with_subscription(bus)
    published = [bus.publish(topic, f"m{i}".encode()) for i in range(5)]

    first = bus.pull(subscription, max_messages=2, timeout=0)
    rest = bus.pull(subscription, max_messages=10, timeout=0)

    assert len(first) == 2
    assert sorted(m.message_id for m in first + rest) == sorted(published)


def test_publish_to_unknown_topic_raises_not_found(under_test: BackendUnderTest) -> None:
    with pytest.raises(NotFound):
        under_test.backend.bus.publish(unique("no-such-topic"), b"lost")


def test_message_published_before_a_subscription_exists_is_not_delivered_to_it(
    under_test: BackendUnderTest,
) -> None:
    bus = under_test.backend.bus
    topic = unique("topic")
    bus.create_topic(topic)
    bus.publish(topic, b"early")
    subscription = unique("late-sub")
    bus.create_subscription(SubscriptionConfig(name=subscription, topic=topic))

    later = bus.publish(topic, b"later")

    assert [m.message_id for m in pull_all(bus, subscription, 2, timeout=0.5)] == [later]


def test_unacked_message_is_redelivered_after_the_ack_deadline(
    under_test: BackendUnderTest,
) -> None:
    bus = under_test.backend.bus
    topic, subscription = _topic_with_subscription(bus)
    message_id = bus.publish(topic, b"work")

    first = _pull_one(bus, subscription)
    under_test.let_time_pass(DEADLINE_S - 1)
    assert bus.pull(subscription, timeout=0) == [], "redelivered before the ack deadline"
    under_test.let_time_pass(1.5)
    second = _pull_one(bus, subscription)
    under_test.let_time_pass(DEADLINE_S + 0.5)
    third = _pull_one(bus, subscription)

    assert [m.message_id for m in (first, second, third)] == [message_id] * 3
    assert [m.delivery_attempt for m in (first, second, third)] == [1, 2, 3]
    assert len({first.ack_id, second.ack_id, third.ack_id}) == 3
    bus.ack(subscription, [third.ack_id])
    under_test.let_time_pass(DEADLINE_S * 3)
    assert bus.pull(subscription, timeout=0) == []


def test_nack_redelivers_only_after_exponential_backoff_capped_at_max(
    under_test: BackendUnderTest,
) -> None:
    bus = under_test.backend.bus
    topic, subscription = _topic_with_subscription(bus, min_backoff_s=1.0, max_backoff_s=5.0)
    message_id = bus.publish(topic, b"flaky")

    message = _pull_one(bus, subscription)
    # min_backoff * 2 ** (attempt - 1), capped at max_backoff.
    for attempt, backoff in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 5.0), (5, 5.0)]:
        assert message.delivery_attempt == attempt
        bus.nack(subscription, [message.ack_id])
        under_test.let_time_pass(backoff - 0.1)
        assert bus.pull(subscription, timeout=0) == [], (
            f"back before {backoff} s (attempt {attempt})"
        )
        under_test.let_time_pass(0.2)
        message = _pull_one(bus, subscription)
        assert message.message_id == message_id
    assert message.delivery_attempt == 6


def _dead_lettered_as_pub_sub_does(
    dead: Message, original: Message, subscription: str, attempts: int
) -> None:
    """The dead letter: same data and attributes, plus the attributes Pub/Sub adds."""
    assert dead.data == original.data
    added = {k: v for k, v in dead.attributes.items() if k not in original.attributes}
    assert {k: v for k, v in dead.attributes.items() if k in original.attributes} == (
        original.attributes
    )
    assert added[DLQ_SOURCE_SUBSCRIPTION] == subscription
    assert added[DLQ_DELIVERY_ATTEMPTS] == str(attempts)
    published = datetime.fromisoformat(added[DLQ_SOURCE_PUBLISH_TIME])
    assert abs(published - original.publish_time) < timedelta(milliseconds=1)
    assert {k for k in added if not k.startswith("CloudPubSubDeadLetter")} == set()


def test_nacked_message_goes_to_dead_letter_topic_after_max_attempts(
    under_test: BackendUnderTest,
) -> None:
    bus = under_test.backend.bus
    dead_topic, dead_subscription = _topic_with_subscription(bus)
    topic, subscription = _topic_with_subscription(
        bus,
        max_delivery_attempts=MIN_DELIVERY_ATTEMPTS,
        dead_letter_topic=dead_topic,
        min_backoff_s=1.0,
        max_backoff_s=1.0,
    )
    bus.publish(topic, b"poison", {"job_id": "j9"})

    attempts = []
    for _ in range(MIN_DELIVERY_ATTEMPTS):
        message = _pull_one(bus, subscription)
        attempts.append(message.delivery_attempt)
        bus.nack(subscription, [message.ack_id])
        under_test.let_time_pass(1.5)
    assert attempts == list(range(1, MIN_DELIVERY_ATTEMPTS + 1))
    # Pub/Sub moves an exhausted message in the background, its emulator when the
    # subscription is next pulled; a consumer always pulls again.
    assert bus.pull(subscription, timeout=0.5) == []

    dead = pull_all(bus, dead_subscription, 1, timeout=10)
    assert len(dead) == 1
    _dead_lettered_as_pub_sub_does(dead[0], message, subscription, MIN_DELIVERY_ATTEMPTS)
    under_test.let_time_pass(DEADLINE_S * 3)
    assert bus.pull(subscription, timeout=0) == [], "dead-lettered message delivered again"


def test_expired_message_goes_to_dead_letter_topic_after_max_attempts(
    under_test: BackendUnderTest,
) -> None:
    """A consumer that dies holding the message (no ack, no nack) spends attempts too."""
    bus = under_test.backend.bus
    dead_topic, dead_subscription = _topic_with_subscription(bus)
    topic, subscription = _topic_with_subscription(
        bus,
        max_delivery_attempts=MIN_DELIVERY_ATTEMPTS,
        dead_letter_topic=dead_topic,
        min_backoff_s=1.0,
        max_backoff_s=1.0,
    )
    bus.publish(topic, b"slow")

    # The first and the last attempt expire; those between are nacked (quicker).
    for attempt in range(1, MIN_DELIVERY_ATTEMPTS + 1):
        message = _pull_one(bus, subscription)
        assert message.delivery_attempt == attempt
        if attempt in (1, MIN_DELIVERY_ATTEMPTS):
            under_test.let_time_pass(DEADLINE_S + 1)
        else:
            bus.nack(subscription, [message.ack_id])
            under_test.let_time_pass(1.5)
    assert bus.pull(subscription, timeout=0.5) == []

    dead = pull_all(bus, dead_subscription, 1, timeout=10)
    assert len(dead) == 1
    _dead_lettered_as_pub_sub_does(dead[0], message, subscription, MIN_DELIVERY_ATTEMPTS)
    under_test.let_time_pass(DEADLINE_S * 3)
    assert bus.pull(subscription, timeout=0) == []


@pytest.mark.parametrize("attempts", [MIN_DELIVERY_ATTEMPTS - 1, MAX_DELIVERY_ATTEMPTS + 1])
def test_a_dead_letter_policy_outside_pub_subs_bounds_is_refused(
    under_test: BackendUnderTest, attempts: int
) -> None:
    bus = under_test.backend.bus
    dead_topic, topic = unique("dead"), unique("topic")
    bus.create_topic(dead_topic)
    bus.create_topic(topic)
    config = SubscriptionConfig(
        name=unique("sub"),
        topic=topic,
        ack_deadline_s=DEADLINE_S,
        dead_letter_topic=dead_topic,
        max_delivery_attempts=attempts,
    )

    with pytest.raises(ConfigError, match="max_delivery_attempts"):
        bus.create_subscription(config)


def test_every_subscription_of_a_topic_gets_every_message(under_test: BackendUnderTest) -> None:
    bus = under_test.backend.bus
    topic, first = _topic_with_subscription(bus)
    second = unique("sub")
    bus.create_subscription(SubscriptionConfig(name=second, topic=topic, ack_deadline_s=DEADLINE_S))
    published = {bus.publish(topic, f"m{i}".encode()) for i in range(3)}

    from_first = pull_all(bus, first, 3)
    bus.ack(first, [m.ack_id for m in from_first])
    from_second = pull_all(bus, second, 3)

    assert {m.message_id for m in from_first} == published
    assert {m.message_id for m in from_second} == published, "an ack on one subscription leaked"
    under_test.let_time_pass(DEADLINE_S + 1)
    assert bus.pull(first, timeout=0) == []
    assert {m.message_id for m in pull_all(bus, second, 3)} == published


def test_modify_ack_deadline_extends_the_lease(under_test: BackendUnderTest) -> None:
    bus = under_test.backend.bus
    topic, subscription = _topic_with_subscription(bus)
    message_id = bus.publish(topic, b"long job")

    message = _pull_one(bus, subscription)
    under_test.let_time_pass(DEADLINE_S - 2)
    bus.modify_ack_deadline(subscription, [message.ack_id], 30.0)
    under_test.let_time_pass(DEADLINE_S)
    assert bus.pull(subscription, timeout=0) == [], "redelivered while the lease was extended"
    under_test.let_time_pass(25.0)
    again = _pull_one(bus, subscription)

    assert again.message_id == message_id
    assert again.delivery_attempt == 2


def test_acking_twice_is_harmless(under_test: BackendUnderTest) -> None:
    bus = under_test.backend.bus
    topic, subscription = _topic_with_subscription(bus)
    bus.publish(topic, b"once")
    other_id = bus.publish(topic, b"other")

    messages = pull_all(bus, subscription, 2)
    once = next(m for m in messages if m.data == b"once")
    other = next(m for m in messages if m.data == b"other")
    bus.ack(subscription, [once.ack_id])
    bus.ack(subscription, [once.ack_id])
    bus.nack(subscription, [other.ack_id])

    under_test.let_time_pass(DEADLINE_S * 3)
    redelivered = pull_all(bus, subscription, 2, timeout=0.5)
    assert [m.message_id for m in redelivered] == [other_id]


def test_seek_redelivers_retained_messages_published_at_or_after_the_time(
    under_test: BackendUnderTest,
) -> None:
    bus = under_test.backend.bus
    topic, subscription = _topic_with_subscription(bus, retain_acked=True)
    old_acked = bus.publish(topic, b"old acked")
    old_pending = bus.publish(topic, b"old pending")
    under_test.let_time_pass(60)
    new_acked = bus.publish(topic, b"new acked")
    new_pending = bus.publish(topic, b"new pending")

    delivered = pull_all(bus, subscription, 4)
    by_id = {m.message_id: m for m in delivered}
    assert set(by_id) == {old_acked, old_pending, new_acked, new_pending}
    bus.ack(subscription, [by_id[old_acked].ack_id, by_id[new_acked].ack_id])
    cutoff = by_id[new_acked].publish_time

    seeked = bus.seek(subscription, cutoff)
    replayed = pull_all(bus, subscription, 4, timeout=0.5)

    # How many, where the backend can tell (Pub/Sub cannot: None).
    assert seeked in (2, None)
    assert {m.message_id for m in replayed} == {new_acked, new_pending}
    assert {m.data for m in replayed} == {b"new acked", b"new pending"}
    bus.ack(subscription, [m.ack_id for m in replayed])
    under_test.let_time_pass(DEADLINE_S * 3)
    assert bus.pull(subscription, timeout=0) == [], "a message older than the seek came back"


def test_concurrent_pullers_never_hold_the_same_message(under_test: BackendUnderTest) -> None:
    bus = under_test.backend.bus
    topic, subscription = _topic_with_subscription(bus, ack_deadline_s=600.0)
    published = {bus.publish(topic, f"m{i}".encode()) for i in range(150)}
    lock = threading.Lock()
    in_flight: set[str] = set()
    processed: Counter[str] = Counter()
    overlaps: list[str] = []
    errors: list[BaseException] = []
    done = threading.Event()
    give_up = time.monotonic() + 20

    def consume() -> None:
        try:
            while not done.is_set() and time.monotonic() < give_up:
                for message in bus.pull(subscription, max_messages=3, timeout=0.05):
                    with lock:
                        if message.message_id in in_flight:
                            overlaps.append(message.message_id)
                        in_flight.add(message.message_id)
                    time.sleep(0.0005)  # hold it, so an overlapping lease would show
                    with lock:
                        in_flight.discard(message.message_id)
                        processed[message.message_id] += 1
                    bus.ack(subscription, [message.ack_id])
                with lock:
                    if len(processed) >= len(published):
                        done.set()
        except BaseException as exc:  # surfaced by the main thread
            errors.append(exc)
            done.set()

    threads = [threading.Thread(target=consume) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert not errors, errors
    assert not overlaps, f"messages leased to two pullers at once: {overlaps[:5]}"
    assert set(processed) == published
    assert set(processed.values()) == {1}, "a message was processed more than once"
