"""Firestore semantics on SQLite: documents, transactions, queries, watches.

Every write appends to a change log in the same transaction; watchers read the
log in order, so a listener in this or any other process sees every change of
a document, in the order it happened. A collection can be bound to a bus topic
(like an Eventarc trigger on ``document.created``): creating a document there
publishes an event atomically with the write.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from tributary.adapters.local.bus import LocalBus
from tributary.adapters.local.db import Database
from tributary.clock import SystemClock, from_epoch, to_epoch
from tributary.errors import TributaryError
from tributary.ports import Change, Clock, Document

_OPS: dict[str, str] = {"==": "=", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}


class AlreadyExists(TributaryError):
    code = "already_exists"


def deep_merge(base: Document, patch: Document) -> Document:
    """Merge ``patch`` into a copy of ``base``; nested dicts merge, other values replace."""
    out = dict(base)
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def split_path(path: str) -> tuple[str, str]:
    parts = path.strip("/").split("/")
    if len(parts) < 2 or len(parts) % 2 or any(not p for p in parts):
        raise ValueError(f"not a document path: {path!r}")
    return "/".join(parts[:-1]), parts[-1]


class _Txn:
    """Reads and writes inside one SQLite write transaction."""

    def __init__(self, store: LocalDocumentStore, conn: sqlite3.Connection) -> None:
        self._store = store
        self._conn = conn

    @property
    def database(self) -> Database:
        """The database this transaction writes (a bus on the same one can publish in it)."""
        return self._store._db

    @property
    def connection(self) -> sqlite3.Connection:
        return self._conn

    def get(self, path: str) -> Document | None:
        return self._store._get(self._conn, path)

    def set(self, path: str, data: Document) -> None:
        self._store._write(self._conn, path, data)

    def create(self, path: str, data: Document) -> None:
        if self._store._get(self._conn, path) is not None:
            raise AlreadyExists(f"document {path} already exists")
        self._store._write(self._conn, path, data)


class LocalWatch:
    def __init__(self, stop: threading.Event, thread: threading.Thread) -> None:
        self._stop = stop
        self._thread = thread

    def close(self) -> None:
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=2)


class LocalDocumentStore:
    """The embedded :class:`tributary.ports.DocumentStore`."""

    def __init__(
        self,
        db: Database,
        clock: Clock | None = None,
        bus: LocalBus | None = None,
        created_topics: dict[str, str] | None = None,
    ) -> None:
        self._db = db
        self._clock = clock or SystemClock()
        self._bus = bus
        self._created_topics = dict(created_topics or {})

    # -- single-document operations -----------------------------------------

    def get(self, path: str) -> Document | None:
        return self._get(self._db.read(), path)

    def create(self, path: str, data: Document) -> bool:
        with self._db.write() as conn:
            if self._get(conn, path) is not None:
                return False
            self._write(conn, path, data)
            return True

    def set(self, path: str, data: Document) -> None:
        with self._db.write() as conn:
            self._write(conn, path, data)

    def merge(self, path: str, data: Document) -> None:
        with self._db.write() as conn:
            self._write(conn, path, deep_merge(self._get(conn, path) or {}, data))

    def delete(self, path: str) -> None:
        with self._db.write() as conn:
            if conn.execute("DELETE FROM documents WHERE path=?", (path,)).rowcount:
                self._log(conn, path, "deleted", None)

    @contextmanager
    def transaction(self) -> Iterator[_Txn]:
        with self._db.write() as conn:
            yield _Txn(self, conn)

    # -- queries -------------------------------------------------------------

    def query(
        self,
        collection: str,
        where: list[tuple[str, str, Any]] | None = None,
        order_by: str | None = None,
        descending: bool = False,
        limit: int | None = None,
    ) -> list[tuple[str, Document]]:
        sql = ["SELECT path, data FROM documents WHERE collection=?"]
        args: list[Any] = [collection]
        for field_path, op, value in where or []:
            column = f"json_extract(data, '$.{_json_path(field_path)}')"
            if op == "in":
                values = list(value)
                sql.append(f"AND {column} IN ({','.join('?' * len(values))})")
                args.extend(_sql_value(v) for v in values)
            elif op in _OPS:
                sql.append(f"AND {column} {_OPS[op]} ?")
                args.append(_sql_value(value))
            else:
                raise ValueError(f"unsupported query operator {op!r}")
        if order_by:
            # Firestore: ordering by a field leaves out documents without it (an explicit
            # null stays in; json_type tells the two apart).
            sql.append(f"AND json_type(data, '$.{_json_path(order_by)}') IS NOT NULL")
            direction = "DESC" if descending else "ASC"
            sql.append(f"ORDER BY json_extract(data, '$.{_json_path(order_by)}') {direction}, path")
        if limit is not None:
            sql.append("LIMIT ?")
            args.append(int(limit))
        rows = self._db.read().execute(" ".join(sql), args).fetchall()
        return [(row["path"].rsplit("/", 1)[1], json.loads(row["data"])) for row in rows]

    # -- watching ------------------------------------------------------------

    def watch(self, path: str, callback: Callable[[Change], None]) -> LocalWatch:
        """Deliver the current state (kind ``snapshot``), then every change in order."""
        stop = threading.Event()
        conn = self._db.read()
        conn.execute("BEGIN")  # one snapshot for the state and the log position
        try:
            start_seq = int(conn.execute("SELECT COALESCE(MAX(seq), 0) FROM changes").fetchone()[0])
            initial = self._get(conn, path)
        finally:
            conn.execute("COMMIT")

        def run() -> None:
            last = start_seq
            callback(Change(path, "snapshot", initial, last, self._clock.now()))
            while not stop.is_set():
                seen = self._db.notifier.version()
                rows = (
                    self._db.read()
                    .execute(
                        "SELECT seq, kind, data, at FROM changes WHERE path=? AND seq>? ORDER BY seq",
                        (path, last),
                    )
                    .fetchall()
                )
                for r in rows:
                    last = r["seq"]
                    data = json.loads(r["data"]) if r["data"] is not None else None
                    callback(Change(path, r["kind"], data, last, from_epoch(r["at"])))
                    if stop.is_set():
                        return
                if not rows:
                    self._db.notifier.wait(seen, Database.POLL_INTERVAL_S)

        thread = threading.Thread(target=run, name=f"watch:{path}", daemon=True)
        thread.start()
        return LocalWatch(stop, thread)

    def prune_changes(self, older_than_s: float) -> int:
        horizon = to_epoch(self._clock.now()) - older_than_s
        with self._db.write() as conn:
            return conn.execute("DELETE FROM changes WHERE at<?", (horizon,)).rowcount

    # -- internals -----------------------------------------------------------

    @staticmethod
    def _get(conn: sqlite3.Connection, path: str) -> Document | None:
        row = conn.execute("SELECT data FROM documents WHERE path=?", (path,)).fetchone()
        return None if row is None else json.loads(row["data"])

    def _write(self, conn: sqlite3.Connection, path: str, data: Document) -> None:
        collection, _doc_id = split_path(path)
        now = to_epoch(self._clock.now())
        encoded = json.dumps(data, sort_keys=True)
        existed = conn.execute("SELECT 1 FROM documents WHERE path=?", (path,)).fetchone()
        if existed:
            conn.execute(
                "UPDATE documents SET data=?, update_time=? WHERE path=?", (encoded, now, path)
            )
        else:
            conn.execute(
                "INSERT INTO documents (path, collection, data, create_time, update_time)"
                " VALUES (?,?,?,?,?)",
                (path, collection, encoded, now, now),
            )
        kind = "updated" if existed else "created"
        self._log(conn, path, kind, encoded)
        topic = self._created_topics.get(collection)
        if kind == "created" and topic and self._bus is not None:
            event = json.dumps({"path": path, "document": data}).encode()
            self._bus.publish_in(
                conn, topic, event, {"eventType": "document.created", "path": path}
            )

    def _log(self, conn: sqlite3.Connection, path: str, kind: str, encoded: str | None) -> None:
        conn.execute(
            "INSERT INTO changes (path, kind, data, at) VALUES (?,?,?,?)",
            (path, kind, encoded, to_epoch(self._clock.now())),
        )


def _json_path(field_path: str) -> str:
    if not all(part.isidentifier() for part in field_path.split(".")):
        raise ValueError(f"invalid field path {field_path!r}")
    return field_path


def _sql_value(value: Any) -> Any:
    if isinstance(value, bool):
        return int(value)
    return value
