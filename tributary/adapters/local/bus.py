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
from datetime import datetime

from tributary.adapters.local import policies, replay, snapshots, wakeups
from tributary.adapters.local.db import Database
from tributary.clock import SystemClock, from_epoch, to_epoch
from tributary.errors import NotFound
from tributary.ports import (
    Clock,
    Message,
    SubscriptionConfig,
)

# The first messages due on a subscription, oldest first: new or nacked ones whose
# backoff ended (ready), and ones whose lease ran out (leased). Each state is read
# in index order up to the limit and only those rows are merged, so a pull costs the
# same with a backlog of ten messages or ten thousand (one ORDER BY over both states
# sorted them all, holding the write lock).
_DUE = """
SELECT d.message, d.attempts, m.message_id, m.data, m.attributes, m.publish_time
FROM (
    SELECT * FROM (
        SELECT message, attempts, available_at FROM deliveries
        WHERE subscription=:subscription AND state='ready' AND available_at<=:now
        ORDER BY available_at, message LIMIT :limit
    )
    UNION ALL
    SELECT * FROM (
        SELECT message, attempts, available_at FROM deliveries
        WHERE subscription=:subscription AND state='leased' AND available_at<=:now
        ORDER BY available_at, message LIMIT :limit
    )
) d JOIN messages m ON m.id=d.message
ORDER BY d.available_at, d.message LIMIT :limit
"""


class LocalBus:
    """The embedded :class:`tributary.ports.Bus`."""

    def __init__(self, db: Database, clock: Clock | None = None) -> None:
        self._db = db
        self._clock = clock or SystemClock()
        self._watcher = wakeups.watcher_for(db)

    # -- admin ---------------------------------------------------------------

    def create_topic(self, topic: str) -> None:
        with self._db.write() as conn:
            conn.execute("INSERT OR IGNORE INTO topics (name) VALUES (?)", (topic,))

    def create_subscription(self, config: SubscriptionConfig) -> None:
        max_attempts = policies.max_attempts(config)
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
        return policies.config_from_row(row)

    def subscriptions(self) -> list[SubscriptionConfig]:
        rows = self._db.read().execute("SELECT * FROM subscriptions ORDER BY name").fetchall()
        return [policies.config_from_row(row) for row in rows]

    # -- publish -------------------------------------------------------------

    def publish(self, topic: str, data: bytes, attributes: dict[str, str] | None = None) -> str:
        with self._db.write() as conn:
            return self._publish(conn, topic, data, attributes or {})

    def publish_in(
        self, conn: sqlite3.Connection, topic: str, data: bytes, attributes: dict[str, str]
    ) -> str:
        """Publish inside a caller's transaction (same database), atomically with its writes."""
        return self._publish(conn, topic, data, attributes)

    def publish_in_transaction(
        self, txn: object, topic: str, data: bytes, attributes: dict[str, str]
    ) -> str | None:
        """Publish atomically with a document transaction on this bus's database.

        Returns None, publishing nothing, when ``txn`` is not one (the caller then
        saves the message in its outbox and publishes after the commit).
        """
        if not self.can_publish_in(txn):
            return None
        return self._publish(txn.connection, topic, data, attributes)  # type: ignore[attr-defined]

    def can_publish_in(self, txn: object) -> bool:
        """Whether ``txn`` is a document transaction on this bus's database."""
        return getattr(txn, "database", None) is self._db

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
            # Woken at once by a publish in this process, and by the process's
            # watcher when another process's message (or a redelivery) is ready.
            notifier.wait(
                seen,
                min(remaining, wakeups.REPROBE_S),
                subscription,
                while_waiting=self._watcher.ensure_running,
            )

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
                _DUE, {"subscription": subscription, "now": now, "limit": max_messages}
            ).fetchall()
            for row in rows:
                if policies.exhausted(sub, row["attempts"]):
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
                if policies.exhausted(sub, row["attempts"]):
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
        with self._db.write() as conn:
            if (
                conn.execute("SELECT 1 FROM subscriptions WHERE name=?", (subscription,)).fetchone()
                is None
            ):
                raise NotFound(f"no subscription {subscription!r}")
            return replay.seek(conn, subscription, to_epoch(time), to_epoch(self._clock.now()))

    def create_snapshot(self, snapshot: str, subscription: str) -> None:
        """Remember which messages ``subscription`` has not acknowledged yet."""
        with self._db.write() as conn:
            snapshots.create(conn, snapshot, subscription, to_epoch(self._clock.now()))

    def seek_to_snapshot(self, subscription: str, snapshot: str) -> int:
        """Restore the acknowledgement state ``snapshot`` captured; returns the backlog."""
        with self._db.write() as conn:
            return snapshots.seek(conn, subscription, snapshot, to_epoch(self._clock.now()))

    def purge(self, retention_s: float) -> int:
        """Drop acked deliveries and orphaned messages older than the retention period."""
        with self._db.write() as conn:
            return replay.purge(conn, to_epoch(self._clock.now()) - retention_s)

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

    def _dead_letter(self, conn: sqlite3.Connection, sub: sqlite3.Row, row: sqlite3.Row) -> None:
        attributes = policies.dead_letter_attributes(sub, row)
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


def _split_ack_id(ack_id: str) -> tuple[int, str]:
    message, _, token = ack_id.partition(":")
    return int(message), token
