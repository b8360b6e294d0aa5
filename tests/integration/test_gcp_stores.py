"""The gcp blob and document stores beyond the shared contract: Firestore types, emulator bridges."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

from google.cloud import firestore

from tests.contract.support import pull_all, subprocess_env, unique
from tributary.adapters.gcp import clients
from tributary.adapters.gcp.blobs import GENERATIONS_PREFIX
from tributary.backend import Backend
from tributary.topology import SUB_ON_QUERY, SUB_ON_UPLOAD


def test_firestore_values_written_by_other_clients_read_as_the_json_forms(
    gcp_backend: Backend,
) -> None:
    settings = gcp_backend.settings
    native = clients.firestore(settings.gcp_project, settings.firestore_emulator_host)
    path = f"{unique('things')}/{uuid.uuid4().hex}"
    moment = datetime(2026, 3, 4, 5, 6, 7, 890123, tzinfo=UTC)
    native.document(path).set(
        {
            "at": moment,
            "nested": {"when": moment, "list": [moment, 1]},
            "owner": native.document("users/u1"),
            "server": firestore.SERVER_TIMESTAMP,
        }
    )

    document = gcp_backend.documents.get(path)

    assert document is not None
    assert document["at"] == "2026-03-04T05:06:07.890123Z"
    assert document["nested"] == {
        "when": "2026-03-04T05:06:07.890123Z",
        "list": ["2026-03-04T05:06:07.890123Z", 1],
    }
    assert document["owner"] == "users/u1"
    assert datetime.strptime(document["server"], "%Y-%m-%dT%H:%M:%S.%fZ").year >= 2026


def test_a_transaction_reads_what_it_wrote_and_commits_once(gcp_backend: Backend) -> None:
    documents = gcp_backend.documents
    first, second = (f"{unique('things')}/{uuid.uuid4().hex}" for _ in range(2))
    documents.set(first, {"n": 1})

    with documents.transaction() as txn:
        current = txn.get(first)
        assert current == {"n": 1}
        txn.set(first, {"n": current["n"] + 1})
        assert txn.get(first) == {"n": 2}  # Firestore alone refuses reads after writes
        txn.create(second, {"from": txn.get(first)})

    assert documents.get(first) == {"n": 2}
    assert documents.get(second) == {"from": {"n": 2}}


def test_merge_of_an_empty_map_keeps_the_nested_fields_as_the_local_store_does(
    gcp_backend: Backend,
) -> None:
    documents = gcp_backend.documents
    path = f"{unique('things')}/{uuid.uuid4().hex}"
    documents.set(path, {"stages": {"preprocess": {"ms": 3}}, "tags": [1, 2]})

    documents.merge(path, {"stages": {}, "tags": [3]})

    assert documents.get(path) == {"stages": {"preprocess": {"ms": 3}}, "tags": [3]}


def test_a_set_or_merge_that_creates_a_job_document_announces_it_once(
    gcp_backend: Backend,
) -> None:
    created_by_set, created_by_merge = f"jobs/{uuid.uuid4()}", f"jobs/{uuid.uuid4()}"

    gcp_backend.documents.set(created_by_set, {"app": "echo"})
    gcp_backend.documents.set(created_by_set, {"app": "echo", "state": "queued"})
    gcp_backend.documents.merge(created_by_merge, {"app": "echo"})
    gcp_backend.documents.merge(created_by_merge, {"state": "queued"})

    events = pull_all(gcp_backend.bus, SUB_ON_QUERY, 4, timeout=1.0)
    assert sorted(json.loads(e.data)["path"] for e in events) == sorted(
        [created_by_set, created_by_merge]
    )


def test_old_generations_stay_readable_and_their_copies_are_never_listed(
    gcp_backend: Backend,
) -> None:
    blobs = gcp_backend.blobs
    name = f"{unique('data')}/model.bin"
    first = blobs.put(name, b"one")
    blobs.put(name, b"two")

    assert blobs.get(name, first.generation) == b"one"
    listed = [info.name for info in blobs.list()]
    assert listed == [name]
    assert not any(n.startswith(GENERATIONS_PREFIX) for n in listed)


def test_the_finalize_notification_names_the_object_as_uploaded(gcp_backend: Backend) -> None:
    prefix = gcp_backend.settings.uploads_prefix
    name = f"{prefix}u1/echo/../{uuid.uuid4()}.wav"

    info = gcp_backend.blobs.put(name, b"RIFF", content_type="audio/wav")

    (notification,) = pull_all(gcp_backend.bus, SUB_ON_UPLOAD, 1)
    body = json.loads(notification.data)
    assert (body["name"], body["generation"]) == (name, str(info.generation))
    assert body["id"] == f"{info.bucket}/{name}/{info.generation}"
    assert notification.attributes["objectId"] == name


def test_transactions_in_two_processes_lose_no_update_and_report_lost_races_as_transient(
    gcp_backend: Backend,
) -> None:
    script = Path(__file__).parent / "scripts" / "increment.py"
    env = subprocess_env(gcp_backend.settings)
    workers = [
        subprocess.Popen(
            [sys.executable, str(script), "6"], env=env, stdout=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    reports = []
    for worker in workers:
        out, _ = worker.communicate(timeout=120)
        assert worker.returncode == 0
        reports.append(json.loads(out.strip().splitlines()[-1]))

    assert [r["committed"] for r in reports] == [6, 6]
    assert {code for r in reports for code in r["retried"]} <= {"contention"}
    assert gcp_backend.documents.get("counters/c") == {"n": 12}
