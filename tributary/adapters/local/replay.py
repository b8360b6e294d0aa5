"""Seek and retention of the embedded bus: the SQL behind ``LocalBus.seek`` and ``purge``.

Both run inside the caller's write transaction; times are epoch seconds.
"""

from __future__ import annotations

import sqlite3


def seek(conn: sqlite3.Connection, subscription: str, cutoff: float, now: float) -> int:
    """Ack what was published before ``cutoff``; make everything since deliverable again.

    Returns how many messages will be delivered again.
    """
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


def purge(conn: sqlite3.Connection, horizon: float) -> int:
    """Drop acked deliveries and orphaned messages older than ``horizon``; how many messages."""
    conn.execute("DELETE FROM deliveries WHERE state='acked' AND acked_at<?", (horizon,))
    cursor = conn.execute(
        "DELETE FROM messages WHERE publish_time<? AND id NOT IN (SELECT message FROM deliveries)",
        (horizon,),
    )
    return cursor.rowcount
