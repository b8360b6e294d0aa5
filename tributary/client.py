"""What a client does: upload a file or write a query, then watch the job.

The client picks the job id before it writes anything, so it can start
watching ``jobs/{job_id}`` at once. The object name is built from the job id;
the file's own name is kept only as metadata and never becomes a path.
"""

from __future__ import annotations

import mimetypes
import queue
import re
import uuid
from collections.abc import Callable
from pathlib import PurePath
from typing import Any

from tributary import jobs
from tributary.backend import Backend
from tributary.errors import PermanentError
from tributary.ports import Change

TERMINAL = jobs.TERMINAL_STATES
_UID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")


def upload_name(prefix: str, uid: str, app: str, job_id: str, filename: str) -> str:
    """``{prefix}{uid}/{app}/{job_id}.{ext}``, the extension taken from ``filename`` if sane."""
    if not _UID.match(uid):
        raise PermanentError(f"invalid user id {uid!r}", code="invalid_input")
    suffix = PurePath(filename).suffix.lower().lstrip(".")
    ext = suffix if suffix.isascii() and suffix.isalnum() and len(suffix) <= 10 else "bin"
    return f"{prefix}{uid}/{app}/{job_id}.{ext}"


def submit_file(
    backend: Backend,
    data: bytes,
    *,
    app: str,
    filename: str,
    uid: str = "local",
    job_id: str | None = None,
    content_type: str | None = None,
) -> str:
    """Upload ``data`` for ``app``; the upload's finalize event creates the job."""
    job_id = job_id or str(uuid.uuid4())
    name = upload_name(backend.settings.uploads_prefix, uid, app, job_id, filename)
    guessed = content_type or mimetypes.guess_type(filename)[0] or "application/octet-stream"
    backend.blobs.put(
        name,
        data,
        content_type=guessed,
        metadata={"original_name": filename.encode("utf-8", "replace").decode("utf-8")[:512]},
    )
    return job_id


def submit_text(
    backend: Backend, text: str, *, app: str, uid: str = "local", job_id: str | None = None
) -> str:
    """Create ``jobs/{job_id}`` with only ``app`` and ``input``, as a client would."""
    job_id = job_id or str(uuid.uuid4())
    created = backend.documents.create(
        jobs.job_path(job_id), {"app": app, "input": {"kind": "text", "text": text}, "owner": uid}
    )
    if not created:
        raise PermanentError(f"job {job_id} already exists", code="already_exists")
    return job_id


def follow(
    backend: Backend,
    job_id: str,
    *,
    timeout: float = 120.0,
    on_change: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any] | None:
    """Watch the job until it succeeds or fails; return the final document (None on timeout)."""
    changes: queue.Queue[Change] = queue.Queue()
    watch = backend.documents.watch(jobs.job_path(job_id), changes.put)
    try:
        remaining = timeout
        deadline = backend.clock.now().timestamp() + timeout
        while remaining > 0:
            try:
                change = changes.get(timeout=min(remaining, 0.5))
            except queue.Empty:
                remaining = deadline - backend.clock.now().timestamp()
                continue
            document = change.data
            if document and "state" in document:
                if on_change is not None:
                    on_change(document)
                if document["state"] in TERMINAL:
                    return document
            remaining = deadline - backend.clock.now().timestamp()
        return None
    finally:
        watch.close()
