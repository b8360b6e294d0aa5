"""The embedded document store: its bus bridge, restarts, and watchers fed by other processes."""

from __future__ import annotations

import json
import queue
import subprocess

import pytest

from tests.contract.support import pull_all, script_command, subprocess_env
from tributary.backend import open_backend
from tributary.config import Settings
from tributary.ports import Change
from tributary.topology import SUB_ON_QUERY


def test_a_job_created_in_a_rolled_back_transaction_publishes_nothing(
    settings: Settings,
) -> None:
    backend = open_backend(settings)
    try:
        with pytest.raises(RuntimeError), backend.documents.transaction() as txn:
            txn.create("jobs/rolled-back", {"app": "echo"})
            raise RuntimeError("abandon")
        with backend.documents.transaction() as txn:
            txn.create("jobs/committed", {"app": "echo"})

        events = pull_all(backend.bus, SUB_ON_QUERY, 2, timeout=0.5)
        assert backend.documents.get("jobs/rolled-back") is None
    finally:
        backend.close()

    assert [json.loads(m.data)["path"] for m in events] == ["jobs/committed"]


def test_documents_survive_reopening_the_backend(settings: Settings) -> None:
    first = open_backend(settings)
    first.documents.set("jobs/j1", {"state": "succeeded", "result": {"label": "dry"}})
    first.documents.set("jobs/j2", {"state": "queued"})
    first.documents.delete("jobs/j2")
    first.close()

    second = open_backend(settings)
    try:
        assert second.documents.get("jobs/j1") == {"state": "succeeded", "result": {"label": "dry"}}
        assert second.documents.get("jobs/j2") is None
        assert [doc_id for doc_id, _ in second.documents.query("jobs")] == ["j1"]
    finally:
        second.close()


def test_a_watcher_sees_every_write_made_by_another_process(settings: Settings) -> None:
    backend = open_backend(settings)
    changes: queue.Queue[Change] = queue.Queue()
    watch = backend.documents.watch("jobs/remote", changes.put)
    try:
        assert changes.get(timeout=10).data is None
        writer = subprocess.run(
            script_command("write_document.py", "jobs/remote", "20"),
            env=subprocess_env(settings),
            capture_output=True,
            timeout=30,
            check=False,
        )
        assert writer.returncode == 0, writer.stderr
        seen = [changes.get(timeout=10) for _ in range(20)]
    finally:
        watch.close()
        backend.close()

    assert [(c.kind, c.data) for c in seen] == [("created", {"n": 1})] + [
        ("updated", {"n": n}) for n in range(2, 21)
    ]
