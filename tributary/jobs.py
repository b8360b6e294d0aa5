"""The job document and its state machine, as pure functions over :class:`JobDocument`.

``queued → preprocessing → inference → lookup → succeeded | failed``. A stage is
claimed for ``(job, stage, run)`` under a lease; work finished for a run is
never done again for that run; final states stay final until a new run.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from schemas import (
    BlobInput,
    JobDocument,
    JobError,
    ModelRef,
    StageName,
    StageRecord,
    TextInput,
    format_timestamp,
)
from tributary.errors import TributaryError
from tributary.topology import JOBS_COLLECTION, STAGE_BY_NAME, STAGES

STAGES_IN_ORDER = tuple(route.stage for route in STAGES)

TERMINAL_STATES = frozenset({"succeeded", "failed"})
ACTIVE_STATES = ("queued", "preprocessing", "inference", "lookup")


def job_path(job_id: str) -> str:
    return f"{JOBS_COLLECTION}/{job_id}"


def is_valid_job_id(job_id: str) -> bool:
    try:
        return str(uuid.UUID(job_id)) == job_id.lower() and len(job_id) == 36
    except ValueError:
        return False


def new_job(
    *,
    job_id: str,
    app: str,
    job_input: BlobInput | TextInput,
    owner: str | None,
    now: datetime,
    stuck_after_s: float,
) -> JobDocument:
    return JobDocument(
        job_id=job_id,
        app=app,
        owner=owner,
        created_at=now,
        updated_at=now,
        input=job_input,
        deadline_at=now + timedelta(seconds=stuck_after_s),
    )


dump_timestamp = format_timestamp


def load(data: dict[str, Any]) -> JobDocument:
    return JobDocument.model_validate(data)


def dump(job: JobDocument) -> dict[str, Any]:
    return job.model_dump(mode="json")


# -- claiming --------------------------------------------------------------------


@dataclass(frozen=True)
class Claimed:
    job: JobDocument
    lease_id: str
    attempts: int


@dataclass(frozen=True)
class Skip:
    """Nothing to do: acknowledge the message."""

    reason: str
    # The stage is finished for this run: its saved next message may need sending.
    finished: bool = False


@dataclass(frozen=True)
class Busy:
    """Another worker holds a live lease on this stage: try again later."""

    reason: str


def claim(
    job: JobDocument | None,
    *,
    stage: StageName,
    run: int,
    now: datetime,
    lease_s: float,
    stuck_after_s: float,
    model: ModelRef | None = None,
) -> Claimed | Skip | Busy:
    """Decide whether this delivery may run ``stage`` for ``run``, and take the lease.

    ``model`` is the version active now: a run takes it when it starts (at its
    first stage) and keeps it to the end.
    """
    if job is None:
        return Skip("job document does not exist")
    if run < job.run:
        return Skip(f"run {run} was superseded by run {job.run}")
    if run > job.run:
        return Skip(f"run {run} is newer than the job's run {job.run}")
    if job.state in TERMINAL_STATES:
        return Skip(f"job already {job.state}")
    record = job.stages.get(stage)
    same_run = record is not None and record.run == run
    if same_run and record is not None and record.finished_at is not None:
        return Skip(f"{stage} already finished for run {run}", finished=True)
    if (
        same_run
        and record is not None
        and record.lease_id
        and record.lease_expires_at is not None
        and record.lease_expires_at > now
    ):
        return Busy(f"{stage} is being worked on (lease until {record.lease_expires_at:%H:%M:%S})")
    attempts = (record.attempts if same_run and record is not None else 0) + 1
    lease_id = uuid.uuid4().hex
    stages = dict(job.stages)
    stages[stage] = StageRecord(
        run=run,
        attempts=attempts,
        started_at=now,
        lease_id=lease_id,
        lease_expires_at=now + timedelta(seconds=lease_s),
    )
    # The next stage may already have started (its message is published before
    # this stage records itself finished): the state never moves backwards.
    state = max(job.state, STAGE_BY_NAME[stage].state, key=ACTIVE_STATES.index)
    update: dict[str, Any] = {
        "state": state,
        "stages": stages,
        "updated_at": now,
        "deadline_at": now + timedelta(seconds=stuck_after_s),
    }
    if model is not None and job.model is None and stage == STAGES_IN_ORDER[0]:
        update["model"] = model
    return Claimed(job.model_copy(update=update), lease_id, attempts)


def model_changed_since(job: JobDocument | None, run: int, active: ModelRef | None) -> bool:
    """A redelivered first message of a finished job whose model is no longer active.

    A seek replays the jobs topic: such a message starts a new run with the active
    version; for a job already on the active version it is a duplicate.
    """
    return (
        job is not None
        and active is not None
        and job.state in TERMINAL_STATES
        and run <= job.run
        and job.model is not None
        and job.model.version != active.version
    )


def holds_lease(job: JobDocument, stage: StageName, run: int, lease_id: str) -> bool:
    """Whether this worker's claim on ``stage`` still stands (nobody took it over)."""
    record = job.stages.get(stage)
    return (
        job.run == run and record is not None and record.run == run and record.lease_id == lease_id
    )


# -- transitions after the work ------------------------------------------------------


def finish_stage(
    job: JobDocument,
    *,
    stage: StageName,
    now: datetime,
    ms: float,
    stuck_after_s: float,
    model: ModelRef | None = None,
    result: dict[str, Any] | None = None,
) -> JobDocument:
    """Record a finished stage; with ``result``, the job has succeeded."""
    stages = dict(job.stages)
    record = stages[stage]
    stages[stage] = record.model_copy(
        update={"finished_at": now, "ms": round(ms, 3), "lease_id": None, "lease_expires_at": None}
    )
    update: dict[str, Any] = {"stages": stages, "updated_at": now}
    if job.state not in TERMINAL_STATES:  # a later stage may have finished the job already
        update["deadline_at"] = now + timedelta(seconds=stuck_after_s)
    if model is not None:
        update["model"] = model
    if result is not None:
        update.update(state="succeeded", result=result, error=None, deadline_at=None)
    return job.model_copy(update=update)


def fail(
    job: JobDocument,
    *,
    error: TributaryError,
    stage: StageName | None,
    now: datetime,
    ms: float | None = None,
) -> JobDocument:
    stages = dict(job.stages)
    record = stages.get(stage) if stage else None
    if stage and record is not None:
        stages[stage] = record.model_copy(
            update={"finished_at": now, "ms": ms, "lease_id": None, "lease_expires_at": None}
        )
    job_error = JobError(
        code=error.code, message=error.message, stage=stage, retryable=error.retryable
    )
    return job.model_copy(
        update={
            "state": "failed",
            "error": job_error,
            "stages": stages,
            "updated_at": now,
            "deadline_at": None,
        }
    )


def release(job: JobDocument, *, stage: StageName, now: datetime) -> JobDocument:
    """Give the lease back after a transient failure, so the retry can claim at once."""
    stages = dict(job.stages)
    record = stages[stage]
    stages[stage] = record.model_copy(update={"lease_id": None, "lease_expires_at": None})
    return job.model_copy(update={"stages": stages, "updated_at": now})


def new_run(job: JobDocument, *, now: datetime, stuck_after_s: float, **update: Any) -> JobDocument:
    """Start the job over as run + 1 (replay, requeue, watchdog recovery)."""
    return job.model_copy(
        update={
            "run": job.run + 1,
            "state": "queued",
            "error": None,
            "result": None,
            # The new run takes the model version active when it starts.
            "model": None,
            "stages": {},
            "updated_at": now,
            "deadline_at": now + timedelta(seconds=stuck_after_s),
            **update,
        }
    )


def answered_from_cache(
    job: JobDocument, *, result: dict[str, Any], model: ModelRef, now: datetime
) -> JobDocument:
    """A job whose result came from the cache: final at once, no stage ran."""
    return job.model_copy(
        update={
            "state": "succeeded",
            "result": result,
            "model": model,
            "updated_at": now,
            "deadline_at": None,
        }
    )
