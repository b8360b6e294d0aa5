"""The DocumentStore port: Firestore semantics every backend must share."""

from __future__ import annotations

import json
import queue
import subprocess
import threading
import uuid
from pathlib import Path

import pytest

from tests.contract.support import BackendUnderTest, pull_all, script_command, unique
from tributary.errors import TributaryError
from tributary.ports import Change, DocumentStore
from tributary.topology import JOBS_COLLECTION, SUB_ON_QUERY


def _doc(collection: str | None = None) -> str:
    return f"{collection or unique('things')}/{uuid.uuid4().hex}"


def test_get_of_a_missing_document_is_none(under_test: BackendUnderTest) -> None:
    assert under_test.backend.documents.get(_doc()) is None


def test_create_writes_only_if_absent(under_test: BackendUnderTest) -> None:
    documents = under_test.backend.documents
    path = _doc()

    assert documents.create(path, {"owner": "first", "n": 1}) is True
    assert documents.create(path, {"owner": "second"}) is False
    assert documents.get(path) == {"owner": "first", "n": 1}


def test_set_replaces_the_whole_document(under_test: BackendUnderTest) -> None:
    documents = under_test.backend.documents
    path = _doc()
    documents.set(path, {"a": 1, "nested": {"x": 1, "y": 2}, "list": [1, 2]})

    documents.set(path, {"b": 2, "nested": {"x": 3}})

    assert documents.get(path) == {"b": 2, "nested": {"x": 3}}


def test_merge_deep_merges_and_creates_if_missing(under_test: BackendUnderTest) -> None:
    documents = under_test.backend.documents
    path = _doc()
    documents.merge(path, {"state": "queued", "stages": {"preprocess": {"attempts": 1}}})
    assert documents.get(path) == {"state": "queued", "stages": {"preprocess": {"attempts": 1}}}

    documents.merge(
        path,
        {
            "state": "inference",
            "stages": {"preprocess": {"ms": 12}, "inference": {"attempts": 1}},
            "tags": ["b"],
        },
    )

    assert documents.get(path) == {
        "state": "inference",
        "stages": {"preprocess": {"attempts": 1, "ms": 12}, "inference": {"attempts": 1}},
        "tags": ["b"],
    }


def test_delete_removes_the_document(under_test: BackendUnderTest) -> None:
    documents = under_test.backend.documents
    path = _doc()
    documents.set(path, {"a": 1})

    documents.delete(path)
    documents.delete(path)  # deleting a missing document is not an error

    assert documents.get(path) is None
    assert documents.create(path, {"a": 2}) is True


def test_transactions_serialize_concurrent_read_increment_write(
    under_test: BackendUnderTest,
) -> None:
    documents = under_test.backend.documents
    path = _doc()
    documents.set(path, {"count": 0})
    threads_n, increments = 8, 50
    errors: list[BaseException] = []

    def increment() -> None:
        try:
            for _ in range(increments):
                with documents.transaction() as txn:
                    current = txn.get(path)
                    assert current is not None
                    txn.set(path, {"count": current["count"] + 1})
        except BaseException as exc:  # surfaced by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=increment) for _ in range(threads_n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=40)

    assert not errors, errors
    assert documents.get(path) == {"count": threads_n * increments}


def test_an_exception_inside_a_transaction_rolls_it_back(under_test: BackendUnderTest) -> None:
    documents = under_test.backend.documents
    existing, fresh = _doc(), _doc()
    documents.set(existing, {"state": "queued"})

    with pytest.raises(RuntimeError, match="boom"), documents.transaction() as txn:
        txn.set(existing, {"state": "succeeded"})
        txn.create(fresh, {"state": "queued"})
        raise RuntimeError("boom")

    assert documents.get(existing) == {"state": "queued"}
    assert documents.get(fresh) is None


def test_transaction_create_of_an_existing_document_fails(under_test: BackendUnderTest) -> None:
    documents = under_test.backend.documents
    path = _doc()
    documents.set(path, {"v": 1})

    with pytest.raises(TributaryError) as raised, documents.transaction() as txn:
        txn.create(path, {"v": 2})

    assert raised.value.code == "already_exists"
    assert documents.get(path) == {"v": 1}


@pytest.fixture
def catalogue(under_test: BackendUnderTest) -> tuple[DocumentStore, str]:
    """A collection of five jobs, plus a neighbour collection that must never leak in."""
    documents = under_test.backend.documents
    collection = unique("catalogue")
    rows = {
        "a": {"app": "cough", "state": "queued", "n": 3, "at": "2026-01-01T10:00:00Z"},
        "b": {"app": "text2brain", "state": "succeeded", "n": 1, "at": "2026-01-01T09:00:00Z"},
        "c": {"app": "cough", "state": "failed", "n": 7, "at": "2026-01-02T00:00:00Z"},
        "d": {"app": "cough", "state": "succeeded", "n": 5, "at": "2026-01-03T00:00:00Z"},
        "e": {
            "app": "echo",
            "state": "queued",
            "n": 2,
            "at": "2025-12-31T00:00:00Z",
            "x": {"y": 1},
        },
    }
    for doc_id, data in rows.items():
        documents.set(f"{collection}/{doc_id}", data)
    documents.set(f"{collection}-other/z", {"app": "cough", "state": "queued", "n": 0})
    documents.set(f"{collection}/a/children/z", {"app": "cough", "state": "queued", "n": 0})
    return documents, collection


def _ids(rows: list[tuple[str, dict]]) -> list[str]:
    return [doc_id for doc_id, _data in rows]


def test_query_filters_with_equality_in_and_less_than(
    catalogue: tuple[DocumentStore, str],
) -> None:
    documents, collection = catalogue

    assert sorted(_ids(documents.query(collection, [("app", "==", "cough")]))) == ["a", "c", "d"]
    assert sorted(_ids(documents.query(collection, [("state", "in", ["queued", "failed"])]))) == [
        "a",
        "c",
        "e",
    ]
    assert sorted(_ids(documents.query(collection, [("n", "<", 3)]))) == ["b", "e"]
    assert sorted(_ids(documents.query(collection, [("at", "<", "2026-01-01T10:00:00Z")]))) == [
        "b",
        "e",
    ]
    assert _ids(documents.query(collection, [("x.y", "==", 1)])) == ["e"]
    both = documents.query(collection, [("app", "==", "cough"), ("n", "<", 6)])
    assert sorted(_ids(both)) == ["a", "d"]


def test_query_returns_ids_with_their_documents(catalogue: tuple[DocumentStore, str]) -> None:
    documents, collection = catalogue

    rows = documents.query(collection, [("app", "==", "text2brain")])

    assert rows == [
        ("b", {"app": "text2brain", "state": "succeeded", "n": 1, "at": "2026-01-01T09:00:00Z"})
    ]


def test_query_orders_and_limits(catalogue: tuple[DocumentStore, str]) -> None:
    documents, collection = catalogue

    assert _ids(documents.query(collection, order_by="n")) == ["b", "e", "a", "d", "c"]
    assert _ids(documents.query(collection, order_by="n", descending=True)) == [
        "c",
        "d",
        "a",
        "e",
        "b",
    ]
    assert _ids(documents.query(collection, order_by="at", limit=2)) == ["e", "b"]
    newest_cough = documents.query(
        collection, [("app", "==", "cough")], order_by="at", descending=True, limit=1
    )
    assert _ids(newest_cough) == ["d"]


def test_order_by_leaves_out_documents_without_the_field(
    catalogue: tuple[DocumentStore, str],
) -> None:
    """As in Firestore: ordering by a field only returns documents that have it.

    A field that is present but null still counts, and sorts before numbers.
    """
    documents, collection = catalogue
    documents.set(f"{collection}/f", {"app": "cough", "state": "queued"})
    documents.set(f"{collection}/g", {"app": "cough", "state": "queued", "n": None})

    assert _ids(documents.query(collection, order_by="n")) == ["g", "b", "e", "a", "d", "c"]
    assert len(documents.query(collection)) == 7


def _collect(changes: queue.Queue[Change], count: int, timeout: float = 10.0) -> list[Change]:
    out = []
    for _ in range(count):
        try:
            out.append(changes.get(timeout=timeout))
        except queue.Empty:
            raise AssertionError(f"only {len(out)} of {count} changes arrived: {out}") from None
    return out


def test_watch_delivers_the_current_state_then_every_change_in_order(
    under_test: BackendUnderTest,
) -> None:
    documents = under_test.backend.documents
    path = _doc()
    documents.set(path, {"n": -1})
    changes: queue.Queue[Change] = queue.Queue()

    watch = documents.watch(path, changes.put)
    try:
        initial = _collect(changes, 1)
        for n in range(20):
            documents.set(path, {"n": n})
        updates = _collect(changes, 20)
    finally:
        watch.close()

    assert initial[0].path == path
    assert initial[0].data == {"n": -1}
    assert [c.data for c in updates] == [{"n": n} for n in range(20)]
    assert {c.kind for c in updates} == {"updated"}
    seqs = [c.seq for c in updates]
    assert seqs == sorted(seqs) and len(set(seqs)) == 20


def test_watch_reports_creation_and_deletion(under_test: BackendUnderTest) -> None:
    documents = under_test.backend.documents
    path = _doc()
    changes: queue.Queue[Change] = queue.Queue()

    watch = documents.watch(path, changes.put)
    try:
        initial = _collect(changes, 1)
        documents.create(path, {"v": 1})
        documents.merge(path, {"w": 2})
        documents.delete(path)
        later = _collect(changes, 3)
    finally:
        watch.close()

    assert initial[0].data is None
    assert [(c.kind, c.data) for c in later] == [
        ("created", {"v": 1}),
        ("updated", {"v": 1, "w": 2}),
        ("deleted", None),
    ]


def test_watch_does_not_see_other_documents(under_test: BackendUnderTest) -> None:
    documents = under_test.backend.documents
    collection = unique("things")
    path, neighbour = f"{collection}/one", f"{collection}/one-and-more"
    changes: queue.Queue[Change] = queue.Queue()

    watch = documents.watch(path, changes.put)
    try:
        _collect(changes, 1)
        documents.set(neighbour, {"noise": True})
        documents.set(f"{path}/sub/doc", {"noise": True})
        documents.set(path, {"signal": True})
        (change,) = _collect(changes, 1)
    finally:
        watch.close()

    assert change.data == {"signal": True}
    assert changes.empty()


def _read_lines(process: subprocess.Popen[str], into: queue.Queue[str]) -> None:
    for line in process.stdout or []:
        into.put(line)


def test_watchers_in_this_and_another_process_see_every_state_in_order(
    under_test: BackendUnderTest, tmp_path: Path
) -> None:
    documents = under_test.backend.documents
    path = _doc()
    documents.set(path, {"state": "queued", "n": 0})
    states = [{"state": "running", "n": n} for n in range(1, 21)]
    here: queue.Queue[Change] = queue.Queue()
    errors = tmp_path / "watcher.stderr"
    with errors.open("w") as stderr:
        there = subprocess.Popen(
            script_command("watch_document.py", path, str(len(states))),
            env=under_test.subprocess_env(),
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=_read_lines, args=(there, lines))
    reader.start()
    watch = documents.watch(path, here.put)
    try:
        try:
            first_there = json.loads(lines.get(timeout=20))
        except queue.Empty:
            there.kill()
            raise AssertionError(
                f"no initial state from the watcher: {errors.read_text()}"
            ) from None
        _collect(here, 1)
        for state in states:
            documents.set(path, state)
        seen_here = [c.data for c in _collect(here, len(states))]
        there.wait(timeout=20)
        reader.join(timeout=5)
    finally:
        watch.close()
        if there.poll() is None:
            there.kill()
            there.wait()

    assert there.returncode == 0, errors.read_text()
    seen_there = [json.loads(lines.get_nowait())["data"] for _ in range(lines.qsize())]
    assert first_there["data"] == {"state": "queued", "n": 0}
    assert seen_here == states
    assert seen_there == states


def test_creating_a_job_document_publishes_one_created_event(
    under_test: BackendUnderTest,
) -> None:
    backend = under_test.backend
    job_id = uuid.uuid4().hex
    path = f"{JOBS_COLLECTION}/{job_id}"

    assert backend.documents.create(path, {"app": "echo", "input": {"kind": "text", "text": "hi"}})
    backend.documents.merge(path, {"state": "queued"})
    backend.documents.set(path, {"app": "echo", "state": "succeeded"})
    backend.documents.set(_doc(), {"app": "echo"})  # another collection: no event

    events = pull_all(backend.bus, SUB_ON_QUERY, 2, timeout=1.0)
    assert len(events) == 1, f"expected one created event, got {events}"
    assert events[0].attributes["eventType"] == "document.created"
    body = json.loads(events[0].data)
    assert body["path"] == path
    assert body["document"] == {"app": "echo", "input": {"kind": "text", "text": "hi"}}
