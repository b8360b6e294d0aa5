"""Backfill: jobs for objects that were in the bucket before the pipeline was.

Objects are visited in name order, in chunks; after each chunk the checkpoint
``backfills/{key}`` (one per bucket and prefix) records the last name done and
the counts, so an interrupted backfill started again continues where it
stopped. Creating a job is idempotent (the job id comes from the object), so a
chunk repeated after a crash creates nothing twice.

Objects named ``uploads/<uid>/<app>/<job-id>.<ext>`` become the job they name;
other objects need ``app`` and get a job id derived from their name and
generation, with no owner.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import Any, TextIO

from schemas import format_timestamp
from tributary import intake, jobs
from tributary.backend import Backend
from tributary.ports import BlobInfo
from tributary.progress import ProgressBar

BACKFILLS = "backfills"


@dataclass
class Backfill:
    key: str
    prefix: str
    app: str | None
    cursor: str | None = None
    counts: Counter[str] = field(default_factory=Counter)

    def to_dict(self) -> dict[str, Any]:
        return {
            "prefix": self.prefix,
            "app": self.app,
            "cursor": self.cursor,
            "counts": dict(self.counts),
        }


def checkpoint_key(bucket: str, prefix: str, app: str | None) -> str:
    return hashlib.sha256(f"{bucket}\n{prefix}\n{app or ''}".encode()).hexdigest()[:16]


def open_backfill(backend: Backend, prefix: str, app: str | None, *, fresh: bool) -> Backfill:
    key = checkpoint_key(backend.settings.bucket, prefix, app)
    data = None if fresh else backend.documents.get(f"{BACKFILLS}/{key}")
    if data is None:
        return Backfill(key=key, prefix=prefix, app=app)
    return Backfill(
        key=key, prefix=prefix, app=app, cursor=data.get("cursor"), counts=Counter(data["counts"])
    )


def save(backend: Backend, backfill: Backfill) -> None:
    now = format_timestamp(backend.clock.now())
    backend.documents.set(f"{BACKFILLS}/{backfill.key}", {**backfill.to_dict(), "updated_at": now})


def objects(backend: Backend, backfill: Backfill) -> Iterator[BlobInfo]:
    for info in backend.blobs.list(backfill.prefix):
        if backfill.cursor is None or info.name > backfill.cursor:
            yield info


def run_backfill(
    backend: Backend,
    backfill: Backfill,
    *,
    chunk: int = 100,
    stream: TextIO | None = None,
) -> Backfill:
    """Create the missing jobs, chunk by chunk, saving the checkpoint after each."""
    total = sum(1 for _ in objects(backend, backfill))
    bar = ProgressBar("backfill", total, stream=stream)
    remaining = objects(backend, backfill)
    while batch := list(islice(remaining, chunk)):
        for info in batch:
            backfill.counts[job_for(backend, info, backfill.app)] += 1
            bar.advance()
        backfill.cursor = batch[-1].name
        save(backend, backfill)
    bar.close()
    return backfill


def job_for(backend: Backend, info: BlobInfo, app: str | None) -> str:
    """Make sure ``info`` has a job: "created", "existing", "failed" (refused) or "skipped"."""
    settings = backend.settings
    job_input = intake.blob_input(info)
    try:
        named = intake.parse_upload_name(info.name, settings.uploads_prefix)
        job_id, job_app, owner = named.job_id, named.app, named.uid
    except intake.InvalidObjectName:
        if app is None:
            return "skipped"
        job_id, job_app, owner = (
            intake.object_job_id(info.bucket, info.name, info.generation),
            app,
            None,
        )
    if backend.documents.get(jobs.job_path(job_id)) is not None:
        return "existing"
    intake.create_for_object(backend, job_id, job_app, job_input, owner)
    created = backend.documents.get(jobs.job_path(job_id)) or {}
    return "failed" if created.get("state") == "failed" else "created"
