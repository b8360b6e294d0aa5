"""One SQLite database shared by the local bus, document store and blob index.

WAL mode lets readers and one writer work at once across threads and
processes; a write committed before a process is killed is never lost.
Waiters in this process are woken at once by :class:`Notifier`; other
processes notice changes by polling.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS topics (name TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS subscriptions (
    name TEXT PRIMARY KEY, topic TEXT NOT NULL, ack_deadline_s REAL NOT NULL,
    max_attempts INTEGER, dead_letter_topic TEXT, min_backoff_s REAL NOT NULL,
    max_backoff_s REAL NOT NULL, retain_acked INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT, message_id TEXT NOT NULL UNIQUE,
    topic TEXT NOT NULL, data BLOB NOT NULL, attributes TEXT NOT NULL,
    publish_time REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS deliveries (
    subscription TEXT NOT NULL, message INTEGER NOT NULL, state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0, available_at REAL NOT NULL,
    lease_token TEXT, acked_at REAL,
    PRIMARY KEY (subscription, message)
);
CREATE INDEX IF NOT EXISTS deliveries_ready
    ON deliveries (subscription, state, available_at);
CREATE TABLE IF NOT EXISTS documents (
    path TEXT PRIMARY KEY, collection TEXT NOT NULL, data TEXT NOT NULL,
    create_time REAL NOT NULL, update_time REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS documents_collection ON documents (collection);
CREATE TABLE IF NOT EXISTS changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, path TEXT NOT NULL, kind TEXT NOT NULL,
    data TEXT, at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS changes_path ON changes (path, seq);
CREATE TABLE IF NOT EXISTS blobs (
    bucket TEXT NOT NULL, name TEXT NOT NULL, generation INTEGER NOT NULL,
    size INTEGER NOT NULL, content_type TEXT, sha256 TEXT NOT NULL,
    updated REAL NOT NULL, metadata TEXT NOT NULL,
    PRIMARY KEY (bucket, name, generation)
);
"""


class Notifier:
    """Wakes threads of this process waiting for a change to the database."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._version = 0

    def notify(self) -> None:
        with self._cond:
            self._version += 1
            self._cond.notify_all()

    @property
    def version(self) -> int:
        return self._version

    def wait(self, seen: int, timeout: float) -> int:
        """Wait until the version moves past ``seen`` or ``timeout`` passes."""
        with self._cond:
            if self._version == seen and timeout > 0:
                self._cond.wait(timeout)
            return self._version


_notifiers: dict[str, Notifier] = {}
_notifiers_lock = threading.Lock()


def notifier_for(path: Path) -> Notifier:
    key = str(path.resolve())
    with _notifiers_lock:
        return _notifiers.setdefault(key, Notifier())


class Database:
    """Thread-local connections to one SQLite file."""

    # Other processes' changes are seen within this many seconds.
    POLL_INTERVAL_S = 0.02

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.notifier = notifier_for(path)
        self._local = threading.local()
        self._init_schema()

    def _init_schema(self) -> None:
        conn = self._connection()
        conn.execute("PRAGMA journal_mode=WAL")
        conn.executescript(_SCHEMA)

    def _connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
            conn.execute("PRAGMA busy_timeout=30000")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.row_factory = sqlite3.Row
            self._local.conn = conn
        return conn

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction, taking the write lock up front (no upgrade deadlocks)."""
        conn = self._connection()
        if conn.in_transaction:  # nested: join the outer transaction
            yield conn
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        self.notifier.notify()

    def read(self) -> sqlite3.Connection:
        return self._connection()

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
