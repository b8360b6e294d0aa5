"""One thread per process that notices messages other processes made ready.

A publish in this process wakes its consumers at once (:class:`~.db.Notifier`).
A publish in another process, a lease that ran out or a nack's backoff that ended
changes nothing this process hears about, so something has to look. Each waiting
consumer thread used to probe SQLite every ``POLL_INTERVAL_S``: a dozen threads of a
worker polled 600 times a second, and while the worker was busy their wake-ups took
the GIL from the stages. Now one thread per database file looks for all of them: it
asks SQLite whether anything was committed since its last look (``PRAGMA
data_version``, no table read), and only then which of the subscriptions somebody
waits on have messages ready, waking one waiter per ready message. Times at which a leased or
backed-off message becomes ready again are remembered, so no commit is needed to
wake their consumers.

The thread starts with the first waiter and ends after ``IDLE_EXIT_S`` with none.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

from tributary.adapters.local.db import Database, Notifier

IDLE_EXIT_S = 2.0
# A waiting consumer also looks for itself this often: a safety net, and the way a
# message made ready by a test's fake clock (not the wall clock) is found.
REPROBE_S = 0.25

# How many messages are ready now, and when the next one that is not becomes ready.
_READINESS = (
    "SELECT SUM(available_at<=:now), MIN(CASE WHEN available_at>:now THEN available_at END)"
    " FROM deliveries WHERE subscription=:subscription AND state IN ('ready','leased')"
)


class ReadyWatcher:
    """Wakes this process's consumers of subscriptions whose messages became ready."""

    def __init__(self, path: Path, notifier: Notifier) -> None:
        self._path = path
        self._notifier = notifier
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def ensure_running(self) -> None:
        """Start the watching thread if it is not running (called by every waiter)."""
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name=f"ready-watcher:{self._path}", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        conn = sqlite3.connect(self._path, timeout=30.0, isolation_level=None)
        try:
            self._watch(conn)
        finally:
            conn.close()

    def _watch(self, conn: sqlite3.Connection) -> None:
        last_version: int | None = None
        due: dict[str, float] = {}  # subscription → when its next message becomes ready
        idle_since = time.monotonic()
        while True:
            time.sleep(Database.POLL_INTERVAL_S)
            waiting = self._notifier.waiting()
            if not waiting:
                if time.monotonic() - idle_since > IDLE_EXIT_S and self._retire():
                    return
                continue
            idle_since = time.monotonic()
            version = conn.execute("PRAGMA data_version").fetchone()[0]
            now = time.time()
            changed = version != last_version
            last_version = version
            for subscription in waiting:
                if not changed and due.get(subscription, float("inf")) > now:
                    continue
                ready, next_at = conn.execute(
                    _READINESS, {"now": now, "subscription": subscription}
                ).fetchone()
                if ready:
                    self._notifier.notify_counts({subscription: ready})
                if next_at is None:
                    due.pop(subscription, None)
                else:
                    due[subscription] = next_at

    def _retire(self) -> bool:
        """Stop unless a waiter arrived meanwhile (then it found this thread alive)."""
        with self._lock:
            if self._notifier.waiting():
                return False
            self._thread = None
            return True


_watchers: dict[str, ReadyWatcher] = {}
_watchers_lock = threading.Lock()


def watcher_for(db: Database) -> ReadyWatcher:
    """The process's watcher of ``db``'s file (one per file, like its notifier)."""
    key = str(db.path.resolve())
    with _watchers_lock:
        watcher = _watchers.get(key)
        if watcher is None:
            watcher = _watchers[key] = ReadyWatcher(db.path, db.notifier)
        return watcher
