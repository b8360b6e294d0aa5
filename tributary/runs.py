"""Runs of a job: every new run keeps the one before it at ``jobs/{id}/runs/{run}``.

A job starts over as run + 1 when it is replayed, requeued from the dead
letters, restarted by the watchdog, or redelivered by a seek after its model
changed. The job document then describes the new run; what the earlier run
produced (state, model, result, error, timings) stays readable beside it, so a
user can see what changed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from schemas import JobDocument
from tributary import jobs
from tributary.ports import DocumentStore, Transaction

RUNS = "runs"


def run_path(job_id: str, run: int) -> str:
    return f"{jobs.job_path(job_id)}/{RUNS}/{run}"


def snapshot(job: JobDocument) -> dict[str, Any]:
    """What a run leaves behind when the next one starts."""
    data = jobs.dump(job)
    return {
        "job_id": job.job_id,
        "run": job.run,
        "origin": data.get("run_origin"),
        "state": data["state"],
        "model": data.get("model"),
        "result": data.get("result"),
        "error": data.get("error"),
        "stages": data.get("stages", {}),
        "ended_at": data["updated_at"],
    }


def restart(
    txn: Transaction,
    job: JobDocument,
    *,
    origin: str,
    now: datetime,
    stuck_after_s: float,
    **update: Any,
) -> JobDocument:
    """Archive the current run and write the job back as run + 1 (in ``txn``)."""
    txn.set(run_path(job.job_id, job.run), snapshot(job))
    restarted = jobs.new_run(job, now=now, stuck_after_s=stuck_after_s, run_origin=origin, **update)
    txn.set(jobs.job_path(job.job_id), jobs.dump(restarted))
    return restarted


def previous_run(documents: DocumentStore, job: JobDocument) -> dict[str, Any] | None:
    """The archived run before the job's current one, if any."""
    if job.run <= 1:
        return None
    return documents.get(run_path(job.job_id, job.run - 1))


def history(documents: DocumentStore, job_id: str) -> list[dict[str, Any]]:
    """Every archived run of a job, oldest first."""
    rows = documents.query(f"{jobs.job_path(job_id)}/{RUNS}")
    return sorted((data for _id, data in rows), key=lambda run: int(run["run"]))
