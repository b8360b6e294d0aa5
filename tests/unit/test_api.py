"""The local HTTP API: real status codes and JSON errors, never an error with a 200."""

from __future__ import annotations

import io

import pytest
from flask.testing import FlaskClient

from tests.helpers import wait_for, wait_terminal
from tributary.api import create_app
from tributary.backend import Backend
from tributary.runner import Runner


@pytest.fixture
def http(backend: Backend) -> FlaskClient:
    backend.settings = backend.settings.with_overrides(auth="dev")
    return create_app(backend).test_client()


def test_health(http: FlaskClient) -> None:
    response = http.get("/healthz")
    assert response.status_code == 200 and response.json["status"] == "ok"


def test_upload_creates_a_job_the_caller_can_read(backend: Backend, http: FlaskClient) -> None:
    with Runner(backend):
        response = http.post(
            "/v1/jobs",
            data={"app": "echo", "file": (io.BytesIO(b"hi there"), "../../x ü.txt")},
            headers={"X-Dev-User": "alice"},
        )
        assert response.status_code == 202
        job_id = response.json["job_id"]
        wait_terminal(backend, job_id)
    mine = http.get(f"/v1/jobs/{job_id}", headers={"X-Dev-User": "alice"})
    assert mine.status_code == 200 and mine.json["result"]["length"] == 8
    assert mine.json["input"]["name"] == f"uploads/alice/echo/{job_id}.txt"
    theirs = http.get(f"/v1/jobs/{job_id}", headers={"X-Dev-User": "mallory"})
    assert theirs.status_code == 404 and theirs.json["error"]["code"] == "not_found"
    listing = http.get("/v1/jobs", headers={"X-Dev-User": "alice"})
    assert [j["job_id"] for j in listing.json["jobs"]] == [job_id]


def test_errors_carry_a_code_and_a_real_status(backend: Backend, http: FlaskClient) -> None:
    unknown = http.post("/v1/jobs", json={"app": "nope", "text": "x"})
    assert unknown.status_code == 400 and unknown.json["error"]["code"] == "unknown_app"
    missing = http.get("/v1/jobs/not-a-job")
    assert missing.status_code == 404
    huge = io.BytesIO(b"\0" * (backend.settings.max_upload_bytes + 100_000))
    too_large = http.post("/v1/jobs", data={"app": "echo", "file": (huge, "big.wav")})
    assert too_large.status_code == 413 and too_large.json["error"]["code"] == "too_large"


def test_warmup_loads_the_models_and_names_their_versions(http: FlaskClient) -> None:
    response = http.post("/v1/warmup?app=echo")
    assert response.status_code == 200 and response.json["warmed"] == {"echo": "v1"}
    unknown = http.post("/v1/warmup?app=nope")
    assert unknown.status_code == 400 and unknown.json["error"]["code"] == "unknown_app"


def test_a_replayed_jobs_earlier_runs_are_readable_by_its_owner(
    backend: Backend, http: FlaskClient
) -> None:
    from tributary import replay

    alice = {"X-Dev-User": "alice"}
    with Runner(backend):
        response = http.post("/v1/jobs", json={"app": "echo", "text": "again"}, headers=alice)
        job_id = response.json["job_id"]
        wait_terminal(backend, job_id)
        assert http.get(f"/v1/jobs/{job_id}/runs", headers=alice).json == {"runs": []}
        assert replay.restart(backend, job_id, "replay:api-test") == "restarted"
        wait_for(lambda: http.get(f"/v1/jobs/{job_id}", headers=alice).json["state"] == "succeeded")
    earlier = http.get(f"/v1/jobs/{job_id}/runs", headers=alice)
    assert earlier.status_code == 200
    assert [(r["run"], r["state"]) for r in earlier.json["runs"]] == [(1, "succeeded")]
    assert http.get(f"/v1/jobs/{job_id}", headers=alice).json["run"] == 2
    assert http.get(f"/v1/jobs/{job_id}/runs", headers={"X-Dev-User": "bob"}).status_code == 404
