"""Pub/Sub semantics on SQLite: topics, pull subscriptions, at-least-once delivery.

Each published message gets one delivery row per subscription of its topic, in
the same transaction, so a message is either fully published or not at all.
A pulled message is leased until its ack deadline; if it is neither acked nor
nacked by then it becomes available again (redelivery). A nack makes it
available after exponential backoff. Once a message has been delivered
``max_attempts`` times and comes back once more, it is forwarded to the dead-letter
topic instead, with the attributes Pub/Sub sets; as on Pub/Sub, a dead-letter
policy allows 5 to 100 attempts. Acked messages of a subscription
that retains them stay until the retention period ends, so ``seek`` can
redeliver them.
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from datetime import UTC, datetime

from tributary.adapters.local.db import Database
from tributary.clock import SystemClock, from_epoch, to_epoch
from tributary.errors import ConfigError, NotFound
from tributary.ports import (
    DLQ_DELIVERY_ATTEMPTS,
    DLQ_SOURCE_PUBLISH_TIME,
    DLQ_SOURCE_SUBSCRIPTION,
    MAX_DELIVERY_ATTEMPTS,
    MIN_DELIVERY_ATTEMPTS,
    Clock,
    Message,
    SubscriptionConfig,
)


class LocalBus:
    """The embedded :class:`tributary.ports.Bus`."""

    def __init__(self, db: Database, clock: Clock | None = None) -> None:
        self._db = db
        self._clock = clock or SystemClock()

    # -- admin ---------------------------------------------------------------

    def create_topic(self, topic: str) -> None:
        with self._db.write() as conn:
            conn.execute("INSERT OR IGNORE INTO topics (name) VALUES (?)", (topic,))

    def create_subscription(self, config: SubscriptionConfig) -> None:
        max_attempts = _max_attempts(config)
        with self._db.write() as conn:
            self._require_topic(conn, config.topic)
            if config.dead_letter_topic:
                self._require_topic(conn, config.dead_letter_topic)
            conn.execute(
                "INSERT INTO subscriptions VALUES (?,?,?,?,?,?,?,?) ON CONFLICT(name) DO UPDATE SET"
                " topic=excluded.topic, ack_deadline_s=excluded.ack_deadline_s,"
                " max_attempts=excluded.max_attempts, dead_letter_topic=excluded.dead_letter_topic,"
                " min_backoff_s=excluded.min_backoff_s, max_backoff_s=excluded.max_backoff_s,"
                " retain_acked=excluded.retain_acked",
                (
                    config.name,
                    config.topic,
                    config.ack_deadline_s,
                    max_attempts,
                    config.dead_letter_topic,
                    config.min_backoff_s,
                    config.max_backoff_s,
                    int(config.retain_acked),
                ),
            )

    def subscription(self, name: str) -> SubscriptionConfig:
        row = (
            self._db.read().execute("SELECT * FROM subscriptions WHERE name=?", (name,)).fetchone()
        )
        if row is None:
            raise NotFound(f"no subscription {name!r}")
        return _config_from_row(row)

    def subscriptions(self) -> list[SubscriptionConfig]:
        rows = self._db.read().execute("SELECT * FROM subscriptions ORDER BY name").fetchall()
        return [_config_from_row(row) for row in rows]

    # -- publish -------------------------------------------------------------

    def publish(self, topic: str, data: bytes, attributes: dict[str, str] | None = None) -> str:
        with self._db.write() as conn:
            return self._publish(conn, topic, data, attributes or {})

    def publish_in(
        self, conn: sqlite3.Connection, topic: str, data: bytes, attributes: dict[str, str]
    ) -> str:
        """Publish inside a caller's transaction (same database), atomically with its writes."""
        return self._publish(conn, topic, data, attributes)

    def _publish(
        self, conn: sqlite3.Connection, topic: str, data: bytes, attributes: dict[str, str]
    ) -> str:
        self._require_topic(conn, topic)
        message_id = uuid.uuid4().hex
        now = to_epoch(self._clock.now())
        cursor = conn.execute(
            "INSERT INTO messages (message_id, topic, data, attributes, publish_time)"
            " VALUES (?,?,?,?,?)",
            (message_id, topic, data, json.dumps(attributes, sort_keys=True), now),
        )
        conn.execute(
            "INSERT INTO deliveries (subscription, message, state, attempts, available_at)"
            " SELECT name, ?, 'ready', 0, ? FROM subscriptions WHERE topic=?",
            (cursor.lastrowid, now, topic),
        )
        names = conn.execute("SELECT name FROM subscriptions WHERE topic=?", (topic,)).fetchall()
        self._db.announce(*(row[0] for row in names))
        return message_id

    # -- consume -------------------------------------------------------------

    def pull(
        self, subscription: str, max_messages: int = 10, timeout: float = 0.0
    ) -> list[Message]:
        give_up = time.monotonic() + timeout
        notifier = self._db.notifier
        while True:
            seen = notifier.version(subscription)
            messages = self._pull_once(subscription, max_messages)
            remaining = give_up - time.monotonic()
            if messages or remaining <= 0:
                return messages
            # Woken at once by a publish in this process; other processes are polled.
            notifier.wait(seen, min(remaining, Database.POLL_INTERVAL_S), subscription)

    def _pull_once(self, subscription: str, max_messages: int) -> list[Message]:
        now = to_epoch(self._clock.now())
        # Cheap check first, without the write lock: most polls find nothing.
        probe = (
            self._db.read()
            .execute(
                "SELECT 1 FROM deliveries WHERE subscription=? AND state IN ('ready','leased')"
                " AND available_at<=? LIMIT 1",
                (subscription, now),
            )
            .fetchone()
        )
        if probe is None:
            return []
        out: list[Message] = []
        with self._db.write() as conn:
            sub = conn.execute(
                "SELECT * FROM subscriptions WHERE name=?", (subscription,)
            ).fetchone()
            if sub is None:
                raise NotFound(f"no subscription {subscription!r}")
            rows = conn.execute(
                "SELECT d.message, d.attempts, m.message_id, m.data, m.attributes, m.publish_time"
                " FROM deliveries d JOIN messages m ON m.id=d.message"
                " WHERE d.subscription=? AND d.state IN ('ready','leased') AND d.available_at<=?"
                " ORDER BY d.available_at, d.message LIMIT ?",
                (subscription, now, max_messages),
            ).fetchall()
            for row in rows:
                if self._exhausted(sub, row["attempts"]):
                    self._dead_letter(conn, sub, row)
                    continue
                token = uuid.uuid4().hex
                attempts = row["attempts"] + 1
                conn.execute(
                    "UPDATE deliveries SET state='leased', attempts=?, available_at=?, lease_token=?"
                    " WHERE subscription=? AND message=?",
                    (attempts, now + sub["ack_deadline_s"], token, subscription, row["message"]),
                )
                out.append(
                    Message(
                        ack_id=f"{row['message']}:{token}",
                        message_id=row["message_id"],
                        data=bytes(row["data"]),
                        attributes=json.loads(row["attributes"]),
                        publish_time=from_epoch(row["publish_time"]),
                        delivery_attempt=attempts,
                    )
                )
        return out

    def ack(self, subscription: str, ack_ids: list[str]) -> None:
        now = to_epoch(self._clock.now())
        with self._db.write() as conn:
            retain = self._retains(conn, subscription)
            for ack_id in ack_ids:
                message, _token = _split_ack_id(ack_id)
                if retain:
                    conn.execute(
                        "UPDATE deliveries SET state='acked', acked_at=?, lease_token=NULL"
                        " WHERE subscription=? AND message=? AND state!='dead'",
                        (now, subscription, message),
                    )
                else:
                    conn.execute(
                        "DELETE FROM deliveries WHERE subscription=? AND message=? AND state!='dead'",
                        (subscription, message),
                    )

    def nack(self, subscription: str, ack_ids: list[str]) -> None:
        now = to_epoch(self._clock.now())
        with self._db.write() as conn:
            sub = conn.execute(
                "SELECT * FROM subscriptions WHERE name=?", (subscription,)
            ).fetchone()
            if sub is None:
                raise NotFound(f"no subscription {subscription!r}")
            for ack_id in ack_ids:
                message, token = _split_ack_id(ack_id)
                row = conn.execute(
                    "SELECT d.message, d.attempts, m.message_id, m.data, m.attributes,"
                    " m.publish_time FROM deliveries d JOIN messages m ON m.id=d.message"
                    " WHERE d.subscription=? AND d.message=? AND d.state='leased'"
                    " AND d.lease_token=?",
                    (subscription, message, token),
                ).fetchone()
                if row is None:  # lease already expired or message acked: nothing to give back
                    continue
                if self._exhausted(sub, row["attempts"]):
                    self._dead_letter(conn, sub, row)
                    continue
                backoff = min(
                    sub["max_backoff_s"], sub["min_backoff_s"] * 2 ** max(row["attempts"] - 1, 0)
                )
                conn.execute(
                    "UPDATE deliveries SET state='ready', available_at=?, lease_token=NULL"
                    " WHERE subscription=? AND message=?",
                    (now + backoff, subscription, message),
                )

    def modify_ack_deadline(self, subscription: str, ack_ids: list[str], seconds: float) -> None:
        """Extend (or, with 0, end) the lease of messages still being worked on."""
        now = to_epoch(self._clock.now())
        with self._db.write() as conn:
            for ack_id in ack_ids:
                message, token = _split_ack_id(ack_id)
                conn.execute(
                    "UPDATE deliveries SET available_at=? WHERE subscription=? AND message=?"
                    " AND state='leased' AND lease_token=?",
                    (now + seconds, subscription, message, token),
                )

    # -- replay --------------------------------------------------------------

    def seek(self, subscription: str, time: datetime) -> int:
        """Like Pub/Sub seek to a time: later messages are redelivered, earlier ones acked."""
        cutoff = to_epoch(time)
        now = to_epoch(self._clock.now())
        with self._db.write() as conn:
            sub = conn.execute(
                "SELECT * FROM subscriptions WHERE name=?", (subscription,)
            ).fetchone()
            if sub is None:
                raise NotFound(f"no subscription {subscription!r}")
            conn.execute(
                "UPDATE deliveries SET state='acked', acked_at=?, lease_token=NULL"
                " WHERE subscription=? AND state IN ('ready','leased') AND message IN"
                " (SELECT id FROM messages WHERE publish_time<?)",
                (now, subscription, cutoff),
            )
            cursor = conn.execute(
                "UPDATE deliveries SET state='ready', attempts=0, available_at=?, lease_token=NULL,"
                " acked_at=NULL WHERE subscription=? AND state IN ('ready','leased','acked')"
                " AND message IN (SELECT id FROM messages WHERE publish_time>=?)",
                (now, subscription, cutoff),
            )
            return cursor.rowcount

    def purge(self, retention_s: float) -> int:
        """Drop acked deliveries and orphaned messages older than the retention period."""
        horizon = to_epoch(self._clock.now()) - retention_s
        with self._db.write() as conn:
            conn.execute("DELETE FROM deliveries WHERE state='acked' AND acked_at<?", (horizon,))
            cursor = conn.execute(
                "DELETE FROM messages WHERE publish_time<? AND id NOT IN"
                " (SELECT message FROM deliveries)",
                (horizon,),
            )
            return cursor.rowcount

    # -- inspection ----------------------------------------------------------

    def backlog(self, subscription: str) -> int:
        """Messages not yet acknowledged (ready or leased)."""
        row = (
            self._db.read()
            .execute(
                "SELECT COUNT(*) FROM deliveries WHERE subscription=? AND state IN ('ready','leased')",
                (subscription,),
            )
            .fetchone()
        )
        return int(row[0])

    # -- internals -----------------------------------------------------------

    @staticmethod
    def _exhausted(sub: sqlite3.Row, attempts: int) -> bool:
        max_attempts = sub["max_attempts"]
        return (
            bool(sub["dead_letter_topic"]) and max_attempts is not None and attempts >= max_attempts
        )

    def _dead_letter(self, conn: sqlite3.Connection, sub: sqlite3.Row, row: sqlite3.Row) -> None:
        attributes = json.loads(row["attributes"])
        attributes.update(
            {
                DLQ_SOURCE_SUBSCRIPTION: sub["name"],
                DLQ_DELIVERY_ATTEMPTS: str(row["attempts"]),
                DLQ_SOURCE_PUBLISH_TIME: _pubsub_time(from_epoch(row["publish_time"])),
            }
        )
        self._publish(conn, sub["dead_letter_topic"], bytes(row["data"]), attributes)
        conn.execute(
            "UPDATE deliveries SET state='dead', lease_token=NULL WHERE subscription=? AND message=?",
            (sub["name"], row["message"]),
        )

    @staticmethod
    def _require_topic(conn: sqlite3.Connection, topic: str) -> None:
        if conn.execute("SELECT 1 FROM topics WHERE name=?", (topic,)).fetchone() is None:
            raise NotFound(f"no topic {topic!r}")

    @staticmethod
    def _retains(conn: sqlite3.Connection, subscription: str) -> bool:
        row = conn.execute(
            "SELECT retain_acked FROM subscriptions WHERE name=?", (subscription,)
        ).fetchone()
        if row is None:
            raise NotFound(f"no subscription {subscription!r}")
        return bool(row[0])


def _max_attempts(config: SubscriptionConfig) -> int | None:
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


def _pubsub_time(moment: datetime) -> str:
    """A timestamp as Pub/Sub writes it in attributes: UTC, milliseconds, ``Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _split_ack_id(ack_id: str) -> tuple[int, str]:
    message, _, token = ack_id.partition(":")
    return int(message), token


def _config_from_row(row: sqlite3.Row) -> SubscriptionConfig:
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
