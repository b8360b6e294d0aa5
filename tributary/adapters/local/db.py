"""One SQLite database shared by the local bus, document store and blob index.

WAL mode lets readers and one writer work at once across threads and
processes; a write committed before a process is killed is never lost.
Waiters in this process are woken at once by :class:`Notifier`; other
processes' changes are noticed by polling (for the bus, by one thread per
process: :mod:`tributary.adapters.local.wakeups`).
"""

from __future__ import annotations

import sqlite3
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
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
-- In delivery order within each state, so a pull reads the few rows it takes
-- however long the backlog. (Replaces deliveries_ready, which lacked message.)
DROP INDEX IF EXISTS deliveries_ready;
CREATE INDEX IF NOT EXISTS deliveries_due
    ON deliveries (subscription, state, available_at, message);
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


class _Channel:
    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.version = 0


class Notifier:
    """Wakes threads of this process waiting for a change to the database.

    Waiters listen on a channel: ``"*"`` hears every commit (document watchers),
    a subscription's name hears only commits that gave it messages, so a publish
    wakes the consumers of its topic and not every idle thread of the process.
    """

    ANY = "*"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._channels: dict[str, _Channel] = {}
        self._waiters: Counter[str] = Counter()

    def _channel(self, name: str) -> _Channel:
        with self._lock:
            channel = self._channels.get(name)
            if channel is None:
                channel = self._channels[name] = _Channel()
            return channel

    def notify(self, channels: Iterable[str] = ()) -> None:
        """Wake every waiter on ``channels`` (and on ``ANY``)."""
        self.notify_counts(dict.fromkeys(channels, 0))

    def notify_counts(self, counts: Mapping[str, int]) -> None:
        """Wake ``counts[channel]`` waiters of each channel (0: all of them), and all on ``ANY``.

        A commit that published one message wakes one consumer, not every thread
        waiting on the subscription: the others would only find it taken. Those that
        were not asleep see the version move and look anyway.
        """
        for name, wake in {**counts, self.ANY: 0}.items():
            channel = self._channel(name)
            with channel.cond:
                channel.version += 1
                if wake > 0:
                    channel.cond.notify(wake)
                else:
                    channel.cond.notify_all()

    def version(self, channel: str = ANY) -> int:
        return self._channel(channel).version

    def wait(
        self,
        seen: int,
        timeout: float,
        channel: str = ANY,
        *,
        while_waiting: Callable[[], None] | None = None,
    ) -> int:
        """Wait until ``channel`` moves past ``seen`` or ``timeout`` passes.

        ``while_waiting`` runs once this thread counts among the channel's waiters
        (:meth:`waiting`), before it sleeps.
        """
        state = self._channel(channel)
        with self._lock:
            self._waiters[channel] += 1
        try:
            if while_waiting is not None:
                while_waiting()
            with state.cond:
                if state.version == seen and timeout > 0:
                    state.cond.wait(timeout)
                return state.version
        finally:
            with self._lock:
                self._waiters[channel] -= 1
                if not self._waiters[channel]:
                    del self._waiters[channel]

    def waiting(self) -> list[str]:
        """The channels (other than ``ANY``) some thread of this process waits on now."""
        with self._lock:
            return [name for name in self._waiters if name != self.ANY]


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
        self._local.announced = Counter()
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        finally:
            announced, self._local.announced = self._local.announced, None
        conn.execute("COMMIT")
        self.notifier.notify_counts(announced)

    def announce(self, *channels: str) -> None:
        """Wake one waiter on each of ``channels`` once the current write transaction
        commits (one per announcement: a channel announced twice wakes two)."""
        announced: Counter[str] | None = getattr(self._local, "announced", None)
        if announced is None:
            self.notifier.notify_counts(Counter(channels))
        else:
            announced.update(channels)

    def read(self) -> sqlite3.Connection:
        return self._connection()

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
