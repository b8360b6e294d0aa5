"""Jobs over HTTP: create (upload or query), read, list, stream changes, fetch result files."""

from __future__ import annotations

import json
import mimetypes
import queue
import time
from collections.abc import Iterator
from typing import Any

import flask

from tributary import client, jobs, runs
from tributary.apps import REGISTRY, get_app
from tributary.backend import Backend
from tributary.errors import NotFound, PermanentError
from tributary.logs import event, for_job
from tributary.ports import Change, Document
from tributary.topology import JOBS_COLLECTION
from tributary.web.context import api_context
from tributary.web.replies import json_reply

# The event stream: a comment this often keeps proxies from closing an idle stream
# (and notices a gone client); a job that does not exist yet may appear for this long.
KEEPALIVE_S = 15.0
APPEAR_WITHIN_S = 60.0
MAX_LIST = 200


def register(app: flask.Flask) -> None:
    app.add_url_rule("/v1/jobs", view_func=create_job, methods=["POST"])
    app.add_url_rule("/v1/jobs", view_func=list_jobs, methods=["GET"])
    app.add_url_rule("/v1/jobs/<job_id>", view_func=get_job, methods=["GET"])
    app.add_url_rule("/v1/jobs/<job_id>/events", view_func=job_events, methods=["GET"])
    app.add_url_rule("/v1/jobs/<job_id>/runs", view_func=job_runs, methods=["GET"])
    app.add_url_rule("/v1/jobs/<job_id>/files/<name>", view_func=job_file, methods=["GET"])


def require_app(name: str) -> None:
    if name not in REGISTRY:
        raise PermanentError(
            f"unknown app {name!r}; registered apps: {', '.join(sorted(REGISTRY))}",
            code="unknown_app",
        )


def check_upload(backend: Backend, app_name: str, content_type: str | None, size: int) -> None:
    """The edge's limits on an upload: a known app taking files, its content types, the size."""
    require_app(app_name)
    app = get_app(app_name, backend.settings)
    if "blob" not in app.input_kinds:
        raise PermanentError(f"the {app_name} app takes a query, not a file", code="invalid_input")
    limit = backend.settings.max_upload_bytes
    if size > limit:
        raise PermanentError(f"the file is {size} bytes; the limit is {limit}", code="too_large")
    kind = (content_type or "application/octet-stream").split(";")[0].strip().lower()
    accepted = app.upload_content_types
    if accepted and not any(
        kind == a or (a.endswith("/") and kind.startswith(a)) for a in accepted
    ):
        raise PermanentError(
            f"the {app_name} app does not take {kind!r} files", code="unsupported_media"
        )


def create_job() -> tuple[flask.Response, int] | flask.Response:
    """A multipart upload (``file`` + ``app``) or a JSON query (``{"app", "text"}``)."""
    context = api_context()
    backend, uid = context.backend, context.caller()
    request = flask.request
    if request.files or request.mimetype == "multipart/form-data":
        upload = request.files.get("file")
        if upload is None:
            raise PermanentError("multipart uploads carry the file in the 'file' field")
        app_name = request.form.get("app", "")
        data = upload.read()
        check_upload(backend, app_name, upload.mimetype, len(data))
        job_id = client.submit_file(
            backend,
            data,
            app=app_name,
            filename=upload.filename or "upload.bin",
            uid=uid,
            content_type=upload.mimetype,
        )
        via = "upload"
    else:
        body = request.get_json(silent=True) or {}
        app_name = str(body.get("app", ""))
        require_app(app_name)
        job_id = client.submit_text(backend, str(body.get("text", "")), app=app_name, uid=uid)
        via = "query"
    event(for_job(job_id, "tributary.api"), "api_job_submitted", via=via, app=app_name, uid=uid)
    return created(job_id)


def created(job_id: str) -> flask.Response:
    response = json_reply(
        {"job_id": job_id, "url": f"/v1/jobs/{job_id}", "events": f"/v1/jobs/{job_id}/events"},
        202,
    )
    response.headers["Location"] = f"/v1/jobs/{job_id}"
    return response


def owned_job(job_id: str, uid: str) -> Document:
    """The caller's job ``job_id``; anyone else's is as absent as a missing one (404)."""
    backend = api_context().backend
    document = (
        backend.documents.get(jobs.job_path(job_id)) if jobs.is_valid_job_id(job_id) else None
    )
    if document is None or document.get("owner") != uid:
        raise NotFound(f"no job {job_id}")
    return document


def get_job(job_id: str) -> flask.Response:
    return json_reply(owned_job(job_id, api_context().caller()))


def job_runs(job_id: str) -> flask.Response:
    """The job's earlier runs (kept when it was replayed), oldest first."""
    owned_job(job_id, api_context().caller())
    return json_reply({"runs": runs.history(api_context().backend.documents, job_id)})


def list_jobs() -> flask.Response:
    """The caller's most recent jobs, newest first (``?limit=``, at most 200)."""
    context = api_context()
    uid = context.caller()
    try:
        limit = max(1, min(int(flask.request.args.get("limit", "20")), MAX_LIST))
    except ValueError as exc:
        raise PermanentError("limit must be a whole number") from exc
    rows = context.backend.documents.query(
        JOBS_COLLECTION,
        where=[("owner", "==", uid)],
        order_by="created_at",
        descending=True,
        limit=limit,
    )
    return json_reply({"jobs": [doc for _id, doc in rows]})


def job_events(job_id: str) -> flask.Response:
    """Server-Sent Events: the job document on every change, until it succeeds or fails.

    Each event is ``event: job`` with the whole document as ``data``; the stream
    ends with ``event: end``. A job that does not exist yet (an upload's job is
    created as its finalize event is handled) is waited for; one that turns out to
    be someone else's ends the stream with ``event: error`` ``not_found``.
    """
    context = api_context()
    uid = context.caller()
    if not jobs.is_valid_job_id(job_id):
        raise NotFound(f"no job {job_id}")
    current = context.backend.documents.get(jobs.job_path(job_id))
    if current is not None and current.get("owner") != uid:
        raise NotFound(f"no job {job_id}")
    event(for_job(job_id, "tributary.api"), "api_stream_opened", uid=uid)
    response = flask.Response(
        _stream(context.backend, job_id, uid), mimetype="text/event-stream", status=200
    )
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Accel-Buffering"] = "no"
    return response


def _sse(name: str, data: Any, event_id: int | None = None) -> str:
    lines = [f"event: {name}"]
    if event_id is not None:
        lines.append(f"id: {event_id}")
    lines.append("data: " + json.dumps(data, default=str, separators=(",", ":")))
    return "\n".join(lines) + "\n\n"


def _stream(backend: Backend, job_id: str, uid: str) -> Iterator[str]:
    changes: queue.Queue[Change] = queue.Queue()
    watch = backend.documents.watch(jobs.job_path(job_id), changes.put)
    appear_by = time.monotonic() + APPEAR_WITHIN_S
    seen = False
    try:
        yield "retry: 2000\n\n"
        while True:
            try:
                change = changes.get(timeout=KEEPALIVE_S if seen else 1.0)
            except queue.Empty:
                if not seen and time.monotonic() > appear_by:
                    yield _sse("error", {"code": "not_found", "message": f"no job {job_id}"})
                    return
                yield ": keep-alive\n\n"
                continue
            document = change.data
            if not document or "state" not in document:
                continue
            if document.get("owner") != uid:
                yield _sse("error", {"code": "not_found", "message": f"no job {job_id}"})
                return
            seen = True
            yield _sse("job", document, change.seq)
            if document["state"] in jobs.TERMINAL_STATES:
                yield _sse("end", {"state": document["state"]})
                return
    finally:
        watch.close()


def job_file(job_id: str, name: str) -> flask.Response:
    """A file the job's result names (a picture, a map), to its owner only."""
    document = owned_job(job_id, api_context().caller())
    ref = _result_file(document.get("result"), name)
    if ref is None:
        raise NotFound(f"job {job_id} has no file {name!r}")
    backend = api_context().backend
    data = backend.blobs.get(ref["name"], ref.get("generation"))
    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    if name.endswith(".nii.gz"):
        content_type = "application/gzip"
    response = flask.Response(data, mimetype=content_type)
    disposition = "inline" if content_type.startswith("image/") else "attachment"
    response.headers["Content-Disposition"] = f'{disposition}; filename="{name}"'
    # A generation never changes: the same URL always names the same bytes.
    response.headers["Cache-Control"] = "private, max-age=3600"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _result_file(result: Any, name: str) -> dict[str, Any] | None:
    """The blob reference in ``result`` (one level deep) whose file is ``name``.

    Only the pipeline writes a result, so what it names may be served to the job's
    owner: a cached answer names the files of the job that first computed it.
    """
    if not isinstance(result, dict):
        return None
    prefix = "results/"
    for value in result.values():
        if (
            isinstance(value, dict)
            and isinstance(value.get("name"), str)
            and value["name"].startswith(prefix)
            and value["name"].rsplit("/", 1)[-1] == name
        ):
            return value
    return None
