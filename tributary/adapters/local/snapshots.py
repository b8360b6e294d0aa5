"""Pub/Sub snapshots for the embedded bus.

A snapshot of a subscription remembers which of its messages were not yet
acknowledged when it was taken. Seeking to it makes those, and every message
published since, deliverable again, and marks everything else acknowledged —
what Pub/Sub's ``Seek(snapshot)`` does.
"""

from __future__ import annotations

import json
import sqlite3

from tributary.errors import NotFound, TributaryError

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS snapshots (name TEXT PRIMARY KEY, subscription TEXT NOT NULL,"
    " taken_at REAL NOT NULL, unacked TEXT NOT NULL)"
)


def create(conn: sqlite3.Connection, name: str, subscription: str, now: float) -> int:
    """Take snapshot ``name`` of ``subscription``; returns how many messages it keeps."""
    conn.execute(_SCHEMA)
    if conn.execute("SELECT 1 FROM subscriptions WHERE name=?", (subscription,)).fetchone() is None:
        raise NotFound(f"no subscription {subscription!r}")
    if conn.execute("SELECT 1 FROM snapshots WHERE name=?", (name,)).fetchone() is not None:
        raise TributaryError(f"snapshot {name!r} already exists", code="already_exists")
    unacked = [
        row[0]
        for row in conn.execute(
            "SELECT message FROM deliveries WHERE subscription=? AND state IN ('ready','leased')",
            (subscription,),
        )
    ]
    conn.execute(
        "INSERT INTO snapshots VALUES (?,?,?,?)", (name, subscription, now, json.dumps(unacked))
    )
    return len(unacked)


def seek(conn: sqlite3.Connection, subscription: str, name: str, now: float) -> int:
    """Restore ``subscription`` to snapshot ``name``; returns how many messages are deliverable."""
    conn.execute(_SCHEMA)
    row = conn.execute(
        "SELECT subscription, taken_at, unacked FROM snapshots WHERE name=?", (name,)
    ).fetchone()
    if row is None:
        raise NotFound(f"no snapshot {name!r}")
    if row[0] != subscription:
        raise NotFound(f"snapshot {name!r} was taken of {row[0]!r}, not {subscription!r}")
    kept = json.loads(row[2])
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS kept_messages (id INTEGER PRIMARY KEY)")
    conn.execute("DELETE FROM kept_messages")
    conn.executemany("INSERT INTO kept_messages VALUES (?)", [(m,) for m in kept])
    later = "(SELECT id FROM messages WHERE publish_time>=?)"
    conn.execute(
        "UPDATE deliveries SET state='acked', acked_at=?, lease_token=NULL"
        " WHERE subscription=? AND state IN ('ready','leased')"
        f" AND message NOT IN (SELECT id FROM kept_messages) AND message NOT IN {later}",
        (now, subscription, row[1]),
    )
    cursor = conn.execute(
        "UPDATE deliveries SET state='ready', attempts=0, available_at=?, lease_token=NULL,"
        " acked_at=NULL WHERE subscription=? AND state IN ('ready','leased','acked')"
        f" AND (message IN (SELECT id FROM kept_messages) OR message IN {later})",
        (now, subscription, row[1]),
    )
    return cursor.rowcount


def delete(conn: sqlite3.Connection, name: str) -> None:
    conn.execute(_SCHEMA)
    conn.execute("DELETE FROM snapshots WHERE name=?", (name,))
