"""The HTTP API's newer edges: resumable uploads, the event stream, result files, limits."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient

from tests.helpers import wait_terminal
from tributary import jobs
from tributary.backend import Backend
from tributary.runner import Runner
from tributary.web import create_app


def _client(backend: Backend, **overrides: object) -> FlaskClient:
    backend.settings = backend.settings.with_overrides(auth="dev", **overrides)
    return create_app(backend).test_client()


@pytest.fixture
def http(backend: Backend) -> FlaskClient:
    return _client(backend, upload_chunk_max_bytes=4)


ALICE = {"X-Dev-User": "alice"}


def _start(http: FlaskClient, size: int, **fields: object) -> dict[str, object]:
    body = {"app": "echo", "filename": "note.txt", "content_type": "text/plain", "size": size}
    response = http.post("/v1/uploads", json={**body, **fields}, headers=ALICE)
    assert response.status_code == 201, response.json
    session: dict[str, object] = response.json
    return session


def _put(http: FlaskClient, url: object, data: bytes, start: int, total: int) -> object:
    end = start + len(data) - 1
    headers = {**ALICE, "Content-Range": f"bytes {start}-{end}/{total}"}
    return http.put(str(url), data=data, headers=headers)


def test_a_resumable_upload_becomes_one_job_when_its_last_chunk_arrives(
    backend: Backend, http: FlaskClient
) -> None:
    payload = b"hello, world"  # three chunks of at most 4 bytes
    session = _start(http, len(payload))
    assert session["chunk_bytes"] == 4 and session["received"] == 0
    with Runner(backend):
        first = _put(http, session["url"], payload[:4], 0, len(payload))
        assert first.status_code == 200 and first.json["received"] == 4
        # A resend of the first chunk, or a gap, is refused and changes nothing.
        again = _put(http, session["url"], payload[:4], 0, len(payload))
        assert again.status_code == 409 and again.json["error"]["code"] == "upload_conflict"
        gap = _put(http, session["url"], payload[8:], 8, len(payload))
        assert gap.status_code == 409
        status = http.get(str(session["url"]), headers=ALICE)
        assert status.json["received"] == 4 and status.json["complete"] is False
        assert _put(http, session["url"], payload[4:8], 4, len(payload)).status_code == 200
        last = _put(http, session["url"], payload[8:], 8, len(payload))
        assert last.status_code == 202 and last.json["job_id"] == session["job_id"]
        done = wait_terminal(backend, str(session["job_id"]))
    assert done["state"] == "succeeded" and done["result"]["length"] == len(payload)
    assert done["owner"] == "alice"
    # Someone else cannot see or feed the session.
    theirs = http.get(str(session["url"]), headers={"X-Dev-User": "mallory"})
    assert theirs.status_code == 404


def test_resumable_uploads_enforce_the_limits_at_the_start(
    backend: Backend, http: FlaskClient
) -> None:
    too_big = http.post(
        "/v1/uploads",
        json={"app": "echo", "size": backend.settings.max_upload_bytes + 1},
        headers=ALICE,
    )
    assert too_big.status_code == 413 and too_big.json["error"]["code"] == "too_large"
    wrong_type = http.post(
        "/v1/uploads", json={"app": "cough", "size": 10, "content_type": "text/html"}
    )
    assert wrong_type.status_code == 415
    assert wrong_type.json["error"]["code"] == "unsupported_media"
    session = _start(http, 6)
    oversized_chunk = _put(http, session["url"], b"123456", 0, 6)
    assert oversized_chunk.status_code == 413
    no_range = http.put(str(session["url"]), data=b"12", headers=ALICE)
    assert no_range.status_code == 400 and "Content-Range" in no_range.json["error"]["message"]


def test_a_multipart_upload_of_a_type_the_app_does_not_take_is_refused(
    http: FlaskClient,
) -> None:
    import io

    response = http.post(
        "/v1/jobs",
        data={"app": "cough", "file": (io.BytesIO(b"<html>"), "x.html", "text/html")},
    )
    assert response.status_code == 415 and response.json["error"]["code"] == "unsupported_media"


def _events(response: object) -> Iterator[tuple[str, object]]:
    buffer = ""
    for chunk in response.response:  # type: ignore[attr-defined]
        buffer += chunk.decode() if isinstance(chunk, bytes) else chunk
        while "\n\n" in buffer:
            block, buffer = buffer.split("\n\n", 1)
            fields = dict(
                line.split(": ", 1) for line in block.splitlines() if not line.startswith(":")
            )
            if "event" in fields:
                yield fields["event"], json.loads(fields["data"])


def test_the_event_stream_shows_every_stage_and_ends_when_the_job_does(
    backend: Backend, http: FlaskClient
) -> None:
    created = http.post("/v1/jobs", json={"app": "echo", "text": "abc"}, headers=ALICE)
    assert created.status_code == 202
    stream = http.get(created.json["events"], headers=ALICE, buffered=False)
    assert stream.status_code == 200 and stream.mimetype == "text/event-stream"
    with Runner(backend):
        events = list(_events(stream))
    states = [data["state"] for name, data in events if name == "job"]
    assert states[0] == "queued" and states[-1] == "succeeded"
    assert {"preprocessing", "inference", "lookup"} <= set(states)
    assert events[-1] == ("end", {"state": "succeeded"})
    # Another user's stream is refused outright; the dev user may come as a parameter.
    theirs = http.get(created.json["events"], headers={"X-Dev-User": "mallory"})
    assert theirs.status_code == 404
    mine = http.get(created.json["events"] + "?dev_user=alice", buffered=False)
    assert [name for name, _ in _events(mine)] == ["job", "end"]


def test_result_files_are_served_to_the_job_owner_only(backend: Backend, http: FlaskClient) -> None:
    job_id = str(uuid.uuid4())
    picture = backend.blobs.put(f"results/{job_id}/1/picture.png", b"\x89PNG fake")
    backend.documents.set(
        jobs.job_path(job_id),
        {
            "job_id": job_id,
            "app": "echo",
            "owner": "alice",
            "state": "succeeded",
            "result": {"picture": {"name": picture.name, "generation": picture.generation}},
        },
    )
    url = f"/v1/jobs/{job_id}/files/picture.png"
    mine = http.get(url, headers=ALICE)
    assert mine.status_code == 200 and mine.data == b"\x89PNG fake"
    assert mine.mimetype == "image/png"
    assert http.get(url, headers={"X-Dev-User": "mallory"}).status_code == 404
    assert http.get(f"/v1/jobs/{job_id}/files/other.png", headers=ALICE).status_code == 404


def test_a_caller_over_the_rate_limit_is_told_when_to_come_back(backend: Backend) -> None:
    http = _client(backend, rate_limit_per_minute=6.0, rate_limit_burst=2)
    assert http.get("/v1/jobs", headers=ALICE).status_code == 200
    assert http.get("/v1/jobs", headers=ALICE).status_code == 200
    refused = http.get("/v1/jobs", headers=ALICE)
    assert refused.status_code == 429 and refused.json["error"]["code"] == "rate_limited"
    assert 1 <= int(refused.headers["Retry-After"]) <= 10
    # The limit is per user, and health checks never count.
    assert http.get("/v1/jobs", headers={"X-Dev-User": "bob"}).status_code == 200
    assert http.get("/healthz").status_code == 200


def test_production_mode_wants_a_firebase_id_token(backend: Backend) -> None:
    backend.settings = backend.settings.with_overrides(auth="firebase", gcp_project="demo")
    http = create_app(backend).test_client()
    refused = http.get("/v1/jobs", headers=ALICE)
    assert refused.status_code == 401 and refused.json["error"]["code"] == "unauthenticated"
    # (Token verification itself is tested in tests/functions/test_api.py.)


def test_the_page_configuration_says_how_to_watch_jobs(http: FlaskClient) -> None:
    config = http.get("/v1/config").json
    assert config["realtime"] == "sse" and config["auth"] == {"mode": "dev", "user": "local"}
    assert config["errors"]["corrupt_media"].startswith("The file could not be decoded")
    assert "firebase" not in config
