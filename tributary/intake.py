"""Events become jobs: an upload finalized, or a query document created.

Both paths are idempotent. The job id comes from the object name
(``uploads/{uid}/{app}/{job_id}.{ext}``) or the document path, so the same
event delivered twice creates one job; a second delivery of a job still
``queued`` publishes its first message again (the stages drop the duplicate),
which heals a crash between creating the job and publishing it.
"""

from __future__ import annotations

import logging
import re
import uuid
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from schemas import BlobInput, JobDocument, ModelRef, StageMessage, TextInput
from tributary import cache, jobs, outbox
from tributary.apps import REGISTRY, UnknownApp, get_app
from tributary.backend import Backend
from tributary.errors import PermanentError, TributaryError
from tributary.logs import event, for_job
from tributary.ports import BlobInfo, Transaction
from tributary.registry import registry_for
from tributary.topology import TOPIC_JOBS

_log = logging.getLogger("tributary.intake")

_UPLOAD_NAME = re.compile(
    r"^(?P<prefix>.*?)(?P<uid>[A-Za-z0-9_-]{1,128})/(?P<app>[a-z0-9_-]{1,64})/"
    r"(?P<job_id>[0-9a-f-]{36})(?:\.(?P<ext>[A-Za-z0-9]{1,10}))?$"
)
_NAMESPACE = uuid.UUID("6f1d1a9e-31a8-4c1e-9d55-0c0b8f3c2a10")


class InvalidObjectName(PermanentError):
    code = "invalid_object_name"


@dataclass(frozen=True)
class UploadName:
    uid: str
    app: str
    job_id: str


def parse_upload_name(name: str, prefix: str) -> UploadName:
    """Split ``{prefix}{uid}/{app}/{job_id}.{ext}``; raise InvalidObjectName otherwise."""
    match = _UPLOAD_NAME.match(name)
    if not match or match["prefix"] != prefix or not jobs.is_valid_job_id(match["job_id"]):
        raise InvalidObjectName(
            f"object name {name!r} is not {prefix}<uid>/<app>/<job-id>.<ext> "
            "with a lower-case UUID as job id"
        )
    return UploadName(uid=match["uid"], app=match["app"], job_id=match["job_id"])


def job_from_upload(backend: Backend, resource: dict[str, Any]) -> str | None:
    """Handle a Cloud Storage object resource (JSON_API_V1); return the job id, if any."""
    settings = backend.settings
    name = str(resource.get("name", ""))
    if not name.startswith(settings.uploads_prefix):
        event(
            _log,
            "event_ignored",
            logging.DEBUG,
            reason=f"{name!r} is outside {settings.uploads_prefix}",
        )
        return None
    generation = int(resource["generation"]) if resource.get("generation") else None
    job_input = BlobInput(
        bucket=str(resource.get("bucket", settings.bucket)),
        name=name,
        generation=generation,
        content_type=resource.get("contentType"),
        size=int(resource["size"]) if resource.get("size") is not None else None,
        sha256=resource.get("sha256"),
    )
    try:
        parsed = parse_upload_name(name, settings.uploads_prefix)
    except InvalidObjectName as exc:
        # No job id to report to: make one from the object generation, so the
        # failure is visible (and the same event twice is still one job).
        job_id = object_job_id(job_input.bucket, name, generation)
        _create(backend, job_id, "unknown", job_input, None, error=exc)
        return job_id
    error = None if parsed.app in REGISTRY else _unknown_app(parsed.app)
    _create(backend, parsed.job_id, parsed.app, job_input, parsed.uid, error=error)
    return parsed.job_id


def job_from_query(backend: Backend, path: str, document: dict[str, Any]) -> str | None:
    """Handle a client-created ``jobs/{job_id}`` document holding ``app`` and ``input``."""
    job_id = path.rsplit("/", 1)[-1]
    if "state" in document:  # written by the pipeline itself, not by a client
        return None
    app = str(document.get("app", ""))
    error: TributaryError | None = None
    job_input: BlobInput | TextInput = TextInput(text="")
    try:
        job_input = TextInput.model_validate(document.get("input"))
    except ValidationError:
        error = PermanentError("input must be {kind: 'text', text: '...'}", code="invalid_input")
    if app not in REGISTRY:
        error = _unknown_app(app)
    owner = document.get("owner")
    job = jobs.new_job(
        job_id=job_id,
        app=app or "unknown",
        job_input=job_input,
        owner=str(owner) if owner else None,
        now=backend.clock.now(),
        stuck_after_s=backend.settings.stuck_after_s,
    )
    if error is not None:
        job = jobs.fail(job, error=error, stage=None, now=backend.clock.now())
    cached = _cache_entry(backend, app, job_input) if error is None else None
    with backend.documents.transaction() as txn:
        current = txn.get(path)
        if current is not None and "state" in current:
            existing = jobs.load(current)
            return _maybe_republish(backend, existing)
        if cached is not None:
            entry_path, model = cached
            answer = cache.count_hit(txn, entry_path, backend.clock.now())
            if answer is not None:
                job = jobs.answered_from_cache(
                    job, result=answer, model=model, now=backend.clock.now()
                )
                txn.set(path, jobs.dump(job))
                event(for_job(job_id, app=app), "cache_hit", asked=answer["cache"]["asked"])
                return job_id
        txn.set(path, jobs.dump(job))
        published = _publish_with(backend, txn, job)
    return _announce(backend, job, published=published)


def _cache_entry(
    backend: Backend, app_name: str, job_input: BlobInput | TextInput
) -> tuple[str, ModelRef] | None:
    """Where this input's cached result would be, for the model now served."""
    try:
        app = get_app(app_name, backend.settings)
        key = app.cache_key(job_input)
        if key is None:
            return None
    except TributaryError:  # no model built yet: the stages will say so
        return None
    model = registry_for(backend).active_ref(app_name)
    if model is None:
        return None
    return cache.cache_path(app_name, model.version, key), model


def create_for_object(
    backend: Backend, job_id: str, app: str, job_input: BlobInput, owner: str | None
) -> None:
    """Create (once) the job for an object that no upload event announced (a backfill)."""
    error = None if app in REGISTRY else _unknown_app(app)
    _create(backend, job_id, app, job_input, owner, error=error)


def blob_input(info: BlobInfo) -> BlobInput:
    """The job input naming one stored object generation."""
    return BlobInput(
        bucket=info.bucket,
        name=info.name,
        generation=info.generation,
        content_type=info.content_type,
        size=info.size,
        sha256=info.sha256,
    )


def object_job_id(bucket: str, name: str, generation: int | None) -> str:
    """A stable job id for an object whose name carries none."""
    return str(uuid.uuid5(_NAMESPACE, f"{bucket}/{name}#{generation}"))


def _create(
    backend: Backend,
    job_id: str,
    app: str,
    job_input: BlobInput,
    owner: str | None,
    *,
    error: TributaryError | None,
) -> None:
    now = backend.clock.now()
    job = jobs.new_job(
        job_id=job_id,
        app=app,
        job_input=job_input,
        owner=owner,
        now=now,
        stuck_after_s=backend.settings.stuck_after_s,
    )
    if error is not None:
        job = jobs.fail(job, error=error, stage=None, now=now)
    with backend.documents.transaction() as txn:
        current = txn.get(jobs.job_path(job_id))
        if current is not None:
            existing = jobs.load(current)
            if existing.input != job_input:
                event(for_job(job_id), "job_exists", logging.WARNING, reason="a different object")
                return
            _maybe_republish(backend, existing)
            return
        txn.set(jobs.job_path(job_id), jobs.dump(job))
        published = _publish_with(backend, txn, job)
    _announce(backend, job, published=published)


def _publish_with(backend: Backend, txn: Transaction, job: JobDocument) -> bool:
    """Publish a new job's first message in the transaction creating it, where the bus
    can (the embedded one): then no job exists without its message."""
    if job.state == "failed":
        return False
    return outbox.publish_within(backend.bus, txn, _first_stage_entry(job))


def _announce(backend: Backend, job: JobDocument, *, published: bool = False) -> str:
    log = for_job(job.job_id, app=job.app)
    if job.state == "failed":
        event(
            log,
            "stage_failed",
            logging.WARNING,
            stage="intake",
            code=job.error.code if job.error else "",
            message=job.error.message if job.error else "",
        )
        return job.job_id
    if not published:
        publish_first_stage(backend, job)
    event(log, "job_created", app=job.app)
    return job.job_id


def _maybe_republish(backend: Backend, job: JobDocument) -> str:
    if job.state == "queued" and not job.stages:
        publish_first_stage(backend, job)
        event(
            for_job(job.job_id), "job_exists", reason="still queued; first message published again"
        )
    else:
        event(for_job(job.job_id), "job_exists", logging.DEBUG, reason=f"state {job.state}")
    return job.job_id


def publish_first_stage(backend: Backend, job: JobDocument) -> None:
    outbox.publish(backend.bus, _first_stage_entry(job))


def _first_stage_entry(job: JobDocument) -> dict[str, Any]:
    message = StageMessage(job_id=job.job_id, app=job.app, run=job.run, stage="preprocess")
    return outbox.entry(TOPIC_JOBS, message, {"job_id": job.job_id, "app": job.app})


def _unknown_app(app: str) -> UnknownApp:
    return UnknownApp(f"unknown app {app!r}; registered apps: {', '.join(sorted(REGISTRY))}")
