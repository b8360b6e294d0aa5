"""deploy/firestore.rules: who may create, read and change which documents."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.rules.conftest import ADMIN, FirestoreRest, id_token

ALICE, BOB = id_token("alice"), id_token("bob")


def _job(**changes: Any) -> dict[str, Any]:
    job: dict[str, Any] = {
        "app": "echo",
        "input": {"kind": "text", "text": "a query"},
        "owner": "alice",
    }
    job.update(changes)
    return {k: v for k, v in job.items() if v is not None}


def _new_id() -> str:
    return str(uuid.uuid4())


def _alices_job(firestore: FirestoreRest) -> str:
    job_id = _new_id()
    created = firestore.create("jobs", job_id, _job(), ALICE)
    assert created.status == 200, created.body
    return job_id


def test_a_user_creates_a_job_with_app_input_and_owner_and_reads_it(
    firestore: FirestoreRest,
) -> None:
    job_id = _alices_job(firestore)
    read = firestore.get(f"jobs/{job_id}", ALICE)
    assert read.status == 200
    assert read.body["fields"]["owner"] == {"stringValue": "alice"}


def test_unauthenticated_requests_are_refused(firestore: FirestoreRest) -> None:
    assert firestore.create("jobs", _new_id(), _job(), None).status == 403
    job_id = _alices_job(firestore)
    assert firestore.get(f"jobs/{job_id}", None).status == 403
    assert firestore.jobs_of("alice", None).status == 403


@pytest.mark.parametrize(
    "extra",
    [
        {"state": "succeeded"},
        {"result": {"label": "dry"}},
        {"error": {"code": "x"}},
        {"stages": {}},
        {"run": 2},
        {"model": {"name": "m", "version": "v"}},
        {"created_at": "2024-01-01T00:00:00Z"},
    ],
)
def test_a_user_cannot_create_pipeline_fields(firestore: FirestoreRest, extra: dict) -> None:
    job_id = _new_id()
    assert firestore.create("jobs", job_id, _job(**extra), ALICE).status == 403
    assert firestore.get(f"jobs/{job_id}", ALICE).status == 404


@pytest.mark.parametrize(
    ("case", "job"),
    [
        ("someone else's uid", _job(owner="bob")),
        ("no owner", _job(owner=None)),
        ("no app", _job(app=None)),
        ("no input", _job(input=None)),
        ("a blob input", _job(input={"kind": "blob", "bucket": "b", "name": "n"})),
        ("an empty query", _job(input={"kind": "text", "text": ""})),
        ("an oversized query", _job(input={"kind": "text", "text": "x" * 10001})),
        ("extra input fields", _job(input={"kind": "text", "text": "q", "x": 1})),
        ("an app name with a slash", _job(app="../echo")),
    ],
)
def test_a_user_cannot_create_an_invalid_job(
    firestore: FirestoreRest, case: str, job: dict
) -> None:
    assert firestore.create("jobs", _new_id(), job, ALICE).status == 403, case


def test_a_job_id_must_be_a_uuid(firestore: FirestoreRest) -> None:
    assert firestore.create("jobs", "my-job", _job(), ALICE).status == 403


def test_a_user_cannot_read_or_change_another_users_job(firestore: FirestoreRest) -> None:
    job_id = _alices_job(firestore)
    assert firestore.get(f"jobs/{job_id}", BOB).status == 403
    assert firestore.update(f"jobs/{job_id}", {"owner": "bob"}, BOB).status == 403
    assert firestore.delete(f"jobs/{job_id}", BOB).status == 403
    assert firestore.get(f"jobs/{job_id}", ALICE).body["fields"]["owner"] == {
        "stringValue": "alice"
    }


def test_a_user_cannot_write_state_or_result_on_their_own_job(firestore: FirestoreRest) -> None:
    job_id = _alices_job(firestore)
    assert firestore.update(f"jobs/{job_id}", {"state": "succeeded"}, ALICE).status == 403
    assert firestore.update(f"jobs/{job_id}", {"result": {"label": "dry"}}, ALICE).status == 403
    assert (
        firestore.update(f"jobs/{job_id}", {"input": {"kind": "text", "text": "b"}}, ALICE).status
        == 403
    )
    assert firestore.delete(f"jobs/{job_id}", ALICE).status == 403
    assert "state" not in firestore.get(f"jobs/{job_id}", ALICE).body["fields"]


def test_the_pipeline_writes_what_users_cannot(firestore: FirestoreRest) -> None:
    """The server credential bypasses the rules (so the rules never block the pipeline)."""
    job_id = _alices_job(firestore)
    assert firestore.update(f"jobs/{job_id}", {"state": "succeeded"}, ADMIN).status == 200
    assert firestore.get(f"jobs/{job_id}", ALICE).body["fields"]["state"] == {
        "stringValue": "succeeded"
    }


def test_a_user_lists_only_their_own_jobs(firestore: FirestoreRest) -> None:
    job_id = _alices_job(firestore)
    theirs = firestore.create("jobs", _new_id(), _job(owner="bob"), BOB)
    assert theirs.status == 200
    mine = firestore.jobs_of("alice", ALICE)
    assert mine.status == 200
    names = [row["document"]["name"] for row in mine.body if "document" in row]
    assert any(name.endswith(job_id) for name in names)
    assert firestore.jobs_of(None, ALICE).status == 403  # not filtered by owner
    assert firestore.jobs_of("bob", ALICE).status == 403


def test_only_the_owner_reads_a_jobs_earlier_runs(firestore: FirestoreRest) -> None:
    job_id = _alices_job(firestore)
    archived = firestore.create(f"jobs/{job_id}/runs", "1", {"run": 1, "state": "failed"}, ADMIN)
    assert archived.status == 200, archived.body
    assert firestore.get(f"jobs/{job_id}/runs/1", ALICE).status == 200
    assert firestore.get(f"jobs/{job_id}/runs/1", BOB).status == 403
    assert firestore.create(f"jobs/{job_id}/runs", "2", {"run": 2}, ALICE).status == 403
    assert firestore.get(f"jobs/{job_id}/outbox/preprocess", ALICE).status == 403


def test_a_client_may_watch_a_job_that_does_not_exist_yet(firestore: FirestoreRest) -> None:
    assert firestore.get(f"jobs/{_new_id()}", ALICE).status == 404


def test_dead_letters_are_not_client_accessible(firestore: FirestoreRest) -> None:
    assert firestore.create("deadletters", "m1", {"job_id": "x"}, ADMIN).status == 200
    assert firestore.get("deadletters/m1", ALICE).status == 403
    assert firestore.create("deadletters", "m2", {"job_id": "x"}, ALICE).status == 403
    assert firestore.create("other", "x", {"a": 1}, ALICE).status == 403
