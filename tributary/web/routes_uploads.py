"""Resumable uploads, for phones on flaky networks: start a session, send chunks, done.

1. ``POST /v1/uploads`` with ``{"app", "filename", "content_type", "size"}``: the
   edge's limits (app, content type, size) are checked now; the answer (201) names
   the session (``upload_id``, ``url``), the job id it will create and the largest
   chunk the server takes.
2. ``PUT /v1/uploads/{id}`` with the next bytes and
   ``Content-Range: bytes START-END/SIZE``, where START is what the server has
   received so far: 200 ``{"received": N, "complete": false}``; the chunk that
   completes the file creates the job and answers 202 like ``POST /v1/jobs``.
   A chunk that does not start at the received offset is refused (409
   ``upload_conflict``) and changes nothing.
3. ``GET /v1/uploads/{id}`` says how much was received, to resume after a drop.

Sessions are documents at ``upload_sessions/{id}`` and their chunks objects under
``upload-sessions/{id}/`` (outside ``uploads/``, so a chunk never starts a job): both
survive a restart of the API. A session expires ``TRIBUTARY_UPLOAD_SESSION_TTL_S``
after it starts. Chunks stay in the bucket after the job is created (the BlobStore
port has no delete); docs/deploy.md sets a lifecycle rule that removes them.
"""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from typing import Any

import flask

from schemas import format_timestamp
from tributary import client
from tributary.envelopes import parse_timestamp
from tributary.errors import NotFound, PermanentError
from tributary.logs import event, for_job
from tributary.web.context import ApiContext, api_context
from tributary.web.replies import json_reply
from tributary.web.routes_jobs import check_upload, created

SESSIONS = "upload_sessions"
CHUNK_PREFIX = "upload-sessions/"
_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+)$")


class UploadConflict(PermanentError):
    code = "upload_conflict"


def register(app: flask.Flask) -> None:
    app.add_url_rule("/v1/uploads", view_func=start_upload, methods=["POST"])
    app.add_url_rule("/v1/uploads/<upload_id>", view_func=put_chunk, methods=["PUT"])
    app.add_url_rule("/v1/uploads/<upload_id>", view_func=upload_status, methods=["GET"])


def start_upload() -> tuple[flask.Response, int] | flask.Response:
    context = api_context()
    uid = context.caller()
    body = flask.request.get_json(silent=True)
    if not isinstance(body, dict):
        raise PermanentError('send JSON {"app", "filename", "content_type", "size"}')
    app_name, size = str(body.get("app", "")), body.get("size")
    if not isinstance(size, int) or isinstance(size, bool) or size < 1:
        raise PermanentError("size must be the file's length in bytes (at least 1)")
    content_type = str(body.get("content_type") or "application/octet-stream")
    check_upload(context.backend, app_name, content_type, size)
    upload_id, job_id = uuid.uuid4().hex, str(uuid.uuid4())
    now = context.backend.clock.now()
    session = {
        "owner": uid,
        "app": app_name,
        "filename": str(body.get("filename") or "upload.bin")[:512],
        "content_type": content_type,
        "size": size,
        "received": 0,
        "chunks": [],
        "job_id": job_id,
        "created_at": format_timestamp(now),
        "expires_at": format_timestamp(
            now + timedelta(seconds=context.backend.settings.upload_session_ttl_s)
        ),
    }
    context.backend.documents.set(f"{SESSIONS}/{upload_id}", session)
    event(
        for_job(job_id, "tributary.api"), "upload_session_started", size=size, app=app_name, uid=uid
    )
    response = json_reply(
        {
            **_status(upload_id, session),
            "chunk_bytes": context.backend.settings.upload_chunk_max_bytes,
        },
        201,
    )
    response.headers["Location"] = f"/v1/uploads/{upload_id}"
    return response


def upload_status(upload_id: str) -> flask.Response:
    context = api_context()
    return json_reply(_status(upload_id, _session(context, upload_id, context.caller())))


def put_chunk(upload_id: str) -> tuple[flask.Response, int] | flask.Response:
    context = api_context()
    # Chunks of one file are not rate limited: starting the session was.
    session = _session(context, upload_id, context.caller(limited=False))
    start, end, total = _content_range(flask.request.headers.get("Content-Range", ""))
    data = flask.request.get_data()
    limit = context.backend.settings.upload_chunk_max_bytes
    if total != session["size"]:
        raise PermanentError(f"the session is for {session['size']} bytes, not {total}")
    if len(data) != end - start + 1:
        raise PermanentError(
            f"Content-Range names {end - start + 1} bytes; the body has {len(data)}"
        )
    if len(data) > limit:
        raise PermanentError(f"chunks are limited to {limit} bytes", code="too_large")
    if session.get("complete"):
        return created(session["job_id"])
    if start != session["received"]:
        raise UploadConflict(f"the next chunk starts at byte {session['received']}, not {start}")
    chunk = context.backend.blobs.put(f"{CHUNK_PREFIX}{upload_id}/{start:012d}", data)
    path = f"{SESSIONS}/{upload_id}"
    with context.backend.documents.transaction() as txn:
        current = txn.get(path)
        if current is None or current["received"] != start:
            raise UploadConflict("another request sent this chunk meanwhile")
        current["received"] = end + 1
        current["chunks"] = [
            *current["chunks"],
            {"name": chunk.name, "generation": chunk.generation},
        ]
        txn.set(path, current)
    if current["received"] < current["size"]:
        return json_reply(_status(upload_id, current))
    return _finish(context, upload_id, current)


def _finish(context: ApiContext, upload_id: str, session: dict[str, Any]) -> flask.Response:
    blobs = context.backend.blobs
    data = b"".join(blobs.get(c["name"], c["generation"]) for c in session["chunks"])
    client.submit_file(
        context.backend,
        data,
        app=session["app"],
        filename=session["filename"],
        uid=session["owner"],
        job_id=session["job_id"],
        content_type=session["content_type"],
    )
    context.backend.documents.merge(f"{SESSIONS}/{upload_id}", {"complete": True})
    event(
        for_job(session["job_id"], "tributary.api"),
        "api_job_submitted",
        via="resumable upload",
        app=session["app"],
        uid=session["owner"],
    )
    return created(session["job_id"])


def _session(context: ApiContext, upload_id: str, uid: str) -> dict[str, Any]:
    """The caller's live session ``upload_id``; anyone else's, or an expired one, is 404."""
    session = (
        context.backend.documents.get(f"{SESSIONS}/{upload_id}")
        if re.fullmatch(r"[0-9a-f]{32}", upload_id)
        else None
    )
    if session is None or session.get("owner") != uid:
        raise NotFound(f"no upload session {upload_id}")
    if parse_timestamp(session["expires_at"]) < context.backend.clock.now():
        raise NotFound(f"upload session {upload_id} has expired; start a new one")
    return session


def _content_range(header: str) -> tuple[int, int, int]:
    match = _RANGE.match(header.strip())
    if match is None:
        raise PermanentError("send Content-Range: bytes START-END/SIZE with every chunk")
    start, end, total = (int(g) for g in match.groups())
    if end < start or end >= total:
        raise PermanentError(f"Content-Range {header!r} is not a range of the file")
    return start, end, total


def _status(upload_id: str, session: dict[str, Any]) -> dict[str, Any]:
    return {
        "upload_id": upload_id,
        "url": f"/v1/uploads/{upload_id}",
        "job_id": session["job_id"],
        "size": session["size"],
        "received": session["received"],
        "complete": bool(session.get("complete")),
    }
