"""Watching one Firestore document: listener snapshots become ordered ``Change`` objects.

A Firestore listener delivers the document's current state first, then a new
snapshot after every change, on one background thread, in order. Each becomes
a ``Change``: ``snapshot`` for the first, then ``created`` / ``updated`` /
``deleted`` from whether the document existed before and after. ``seq`` is the
change's commit time in nanoseconds (the document's update time, or the read
time of a deletion), so it grows with every change, as the local change log's does.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from tributary.adapters.gcp.values import from_firestore, nanoseconds
from tributary.ports import Change

_log = logging.getLogger("tributary.gcp.watch")


class FirestoreWatch:
    """A running document listener; ``close`` stops it."""

    def __init__(self) -> None:
        self._listener: Any = None
        self._closed = threading.Event()
        self.callback_thread: int | None = None

    def close(self) -> None:
        self._closed.set()
        listener = self._listener
        if listener is None:
            return
        if threading.get_ident() == self.callback_thread:
            # Unsubscribing joins the thread that runs the callbacks: not from itself.
            threading.Thread(target=listener.unsubscribe, daemon=True).start()
        else:
            listener.unsubscribe()

    @property
    def closed(self) -> bool:
        return self._closed.is_set()


def watch_document(ref: Any, path: str, callback: Callable[[Change], None]) -> FirestoreWatch:
    """Start listening to the document at ``ref``; changes go to ``callback``."""
    watch = FirestoreWatch()
    existed: list[bool | None] = [None]  # None until the first snapshot arrived

    def on_snapshot(snapshots: list[Any], _changes: Any, read_time: datetime) -> None:
        watch.callback_thread = threading.get_ident()
        if watch.closed:
            return
        snapshot = snapshots[0] if snapshots else None
        exists = snapshot is not None and snapshot.exists
        before = existed[0]
        existed[0] = exists
        if before is None:
            kind = "snapshot"
        elif exists:
            kind = "updated" if before else "created"
        elif before:
            kind = "deleted"
        else:
            return  # still absent: nothing a watcher would notice
        at = snapshot.update_time if exists and snapshot is not None else read_time
        data = from_firestore(snapshot.to_dict()) if exists and snapshot is not None else None
        change = Change(path, kind, data, nanoseconds(at), _plain_utc(at))
        try:
            callback(change)
        except Exception:
            # An exception escaping here would stop the listener for good.
            _log.exception(
                "watch callback failed for %s", path, extra={"event": "watch_callback_failed"}
            )

    watch._listener = ref.on_snapshot(on_snapshot)
    return watch


def _plain_utc(moment: datetime) -> datetime:
    return datetime.fromtimestamp(moment.timestamp(), UTC)
