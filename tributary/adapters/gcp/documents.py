"""The DocumentStore port on Cloud Firestore (or its emulator).

Semantics kept identical to the local adapter:

- ``merge`` is a deep merge (nested maps merge, everything else replaces),
  done as a read-merge-write transaction so it is exactly the local merge.
- A transaction buffers its writes and sends them at commit, so it may read
  after writing (Firestore itself refuses reads after writes). Transactions of
  one process run one at a time: Firestore resolves two transactions that read
  and then write the same document by aborting one, and a ``with`` block cannot
  be re-run, so in-process contention is avoided rather than retried. An abort
  caused by another process surfaces as ``Contention`` (a TransientError: the
  message is retried).
- Documents hold JSON values only, as in the local store (see ``values``).

Differences from the local adapter that remain: on a descending ``order_by``,
documents with equal values come in descending id order (Firestore's
tie-break); a Firestore listener in production may skip intermediate states of
a document that changes faster than it can deliver them (the emulator delivers
every one).

Emulator bridge (``created_topics``, set only against the emulator): creating a
document in a bound collection publishes the ``document.created`` event the
production Firestore trigger would deliver. It is published after the write
commits (not atomically with it, unlike the local adapter), and only for writes
made through this adapter.
"""

from __future__ import annotations

import contextlib
import copy
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from google.api_core import exceptions as api

from tributary.adapters.gcp import clients
from tributary.adapters.gcp.errors import translated
from tributary.adapters.gcp.values import from_firestore, to_firestore
from tributary.adapters.gcp.watch import FirestoreWatch, watch_document
from tributary.adapters.local.documents import AlreadyExists, deep_merge
from tributary.ports import Bus, Change, Document

_OPS = frozenset({"==", "!=", "<", "<=", ">", ">=", "in"})
# One transaction at a time per process (see the module docstring).
_TRANSACTIONS = threading.RLock()


class FirestoreTransaction:
    """Reads through a Firestore transaction; writes buffered until commit."""

    def __init__(self, store: FirestoreDocumentStore, native: Any) -> None:
        self._store = store
        self._native = native
        self._read: dict[str, Document | None] = {}
        self._writes: dict[str, tuple[str, Document]] = {}  # path -> (kind, data)

    def get(self, path: str) -> Document | None:
        found = self._writes[path][1] if path in self._writes else self._before(path)
        return copy.deepcopy(found)  # a caller's edits must not leak into the buffer

    def _before(self, path: str) -> Document | None:
        """The document as it was before this transaction (read through it once)."""
        if path not in self._read:
            ref = self._store._ref(path)
            with translated(f"read {path}"):
                if self._native.in_progress:
                    snapshot = ref.get(transaction=self._native)
                else:
                    snapshot = self._begin_with(ref)
            self._read[path] = from_firestore(snapshot.to_dict()) if snapshot.exists else None
        return self._read[path]

    def _begin_with(self, ref: Any) -> Any:
        """Read ``ref`` and begin the transaction in the same request (one round trip less).

        The client library begins with a BeginTransaction request of its own; Firestore
        also begins one on the first read that asks for it (``new_transaction``).
        """
        from google.cloud.firestore_v1.base_client import _parse_batch_get

        client = self._store.client
        responses = client._firestore_api.batch_get_documents(
            request={
                "database": client._database_string,
                "documents": [ref._document_path],
                "new_transaction": {"read_write": {}},
            },
            metadata=client._rpc_metadata,
        )
        snapshot = None
        for response in responses:
            if response.transaction:
                self._native._id = response.transaction
            if response._pb.WhichOneof("result"):
                snapshot = _parse_batch_get(response, {ref._document_path: ref}, client)
        if snapshot is None or not self._native.in_progress:
            raise api.InternalServerError(f"Firestore began no transaction reading {ref.path}")
        return snapshot

    def set(self, path: str, data: Document) -> None:
        kind = self._writes[path][0] if path in self._writes else "set"
        self._writes[path] = (kind, to_firestore(data))

    def create(self, path: str, data: Document) -> None:
        if self.get(path) is not None:
            raise AlreadyExists(f"document {path} already exists")
        self._writes[path] = ("create", to_firestore(data))

    def commit(self) -> list[tuple[str, Document]]:
        """Send the writes; the documents this transaction created in bound collections."""
        created: list[tuple[str, Document]] = []
        for path, (kind, data) in self._writes.items():
            if self._store._bound_topic(path) and (kind == "create" or self._before(path) is None):
                created.append((path, data))
        for path, (kind, data) in self._writes.items():
            ref = self._store._ref(path)
            if kind == "create":
                self._native.create(ref, data)
            else:
                self._native.set(ref, data)
        with translated("commit transaction"):
            try:
                if not self._native.in_progress:  # nothing was read: begin now
                    self._native._begin()
                self._native._commit()
            except api.AlreadyExists as exc:  # a create lost to a concurrent writer
                raise AlreadyExists(f"document already exists ({exc.message})") from exc
        return created


class FirestoreDocumentStore:
    """The :class:`tributary.ports.DocumentStore` on Firestore."""

    def __init__(
        self,
        project: str,
        *,
        emulator_host: str = "",
        bus: Bus | None = None,
        created_topics: dict[str, str] | None = None,
    ) -> None:
        self.project = project
        self._host = emulator_host
        self._bus = bus
        self._created_topics = dict(created_topics or {})

    @property
    def client(self) -> Any:
        return clients.firestore(self.project, self._host)

    def _ref(self, path: str) -> Any:
        return self.client.document(path)

    def _bound_topic(self, path: str) -> str | None:
        return self._created_topics.get(path.strip("/").rsplit("/", 1)[0])

    # -- single-document operations -----------------------------------------

    def get(self, path: str) -> Document | None:
        with translated(f"read {path}"):
            snapshot = self._ref(path).get()
        return from_firestore(snapshot.to_dict()) if snapshot.exists else None

    def create(self, path: str, data: Document) -> bool:
        clean = to_firestore(data)
        with translated(f"create {path}"):
            try:
                self._ref(path).create(clean)
            except api.AlreadyExists:
                return False
        self._announce([(path, clean)])
        return True

    def set(self, path: str, data: Document) -> None:
        if self._bound_topic(path) is None:
            with translated(f"write {path}"):
                self._ref(path).set(to_firestore(data))
            return
        # A bound collection must know whether this write creates the document.
        with self.transaction() as txn:
            txn.set(path, data)

    def merge(self, path: str, data: Document) -> None:
        with self.transaction() as txn:
            txn.set(path, deep_merge(txn.get(path) or {}, to_firestore(data)))

    def delete(self, path: str) -> None:
        with translated(f"delete {path}"):
            self._ref(path).delete()

    @contextmanager
    def transaction(self) -> Iterator[FirestoreTransaction]:
        """A serializable read-modify-write scope; commits on exit, rolls back on error."""
        with _TRANSACTIONS:
            native = self.client.transaction(max_attempts=1)
            # The public entry point, @transactional, re-runs a function on contention;
            # a with-block cannot be re-run, so begin/commit/rollback are driven here.
            # The transaction begins with its first read (or at commit, if none).
            scope = FirestoreTransaction(self, native)
            try:
                yield scope
                created = scope.commit()
            except BaseException:
                if native.in_progress:
                    # If the rollback fails too, the transaction expires on its own.
                    with contextlib.suppress(api.GoogleAPIError):
                        native._rollback()
                raise
        self._announce(created)

    # -- queries -------------------------------------------------------------

    def query(
        self,
        collection: str,
        where: list[tuple[str, str, Any]] | None = None,
        order_by: str | None = None,
        descending: bool = False,
        limit: int | None = None,
    ) -> list[tuple[str, Document]]:
        from google.cloud.firestore import Query
        from google.cloud.firestore_v1.base_query import FieldFilter

        query = self.client.collection(collection)
        for field_path, op, value in where or []:
            if op not in _OPS:
                raise ValueError(f"unsupported query operator {op!r}")
            _check_field_path(field_path)
            operand = list(value) if op == "in" else value
            query = query.where(filter=FieldFilter(field_path, op, operand))
        if order_by:
            _check_field_path(order_by)
            direction = Query.DESCENDING if descending else Query.ASCENDING
            query = query.order_by(order_by, direction=direction)
        if limit is not None:
            query = query.limit(int(limit))
        with translated(f"query {collection}"):
            return [(snap.id, from_firestore(snap.to_dict())) for snap in query.stream()]

    # -- watching ------------------------------------------------------------

    def watch(self, path: str, callback: Callable[[Change], None]) -> FirestoreWatch:
        """Deliver the current state (kind ``snapshot``), then every change in order."""
        return watch_document(self._ref(path), path, callback)

    # -- the emulator's created-event bridge -----------------------------------

    def _announce(self, created: list[tuple[str, Document]]) -> None:
        for path, data in created:
            topic = self._bound_topic(path)
            if topic and self._bus is not None:
                event = json.dumps({"path": path, "document": data}).encode()
                self._bus.publish(topic, event, {"eventType": "document.created", "path": path})


def _check_field_path(field_path: str) -> None:
    if not all(part.isidentifier() for part in field_path.split(".")):
        raise ValueError(f"invalid field path {field_path!r}")
