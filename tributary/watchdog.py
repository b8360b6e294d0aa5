"""The watchdog: no job is ever left stuck.

The bus redelivers a message whose worker died, so the watchdog is the last
line of defence, for a message that was lost outright (a crash between two
writes, an operator purging a queue). A job that has shown no progress since
its ``deadline_at`` is restarted as a new run; after ``max_delivery_attempts``
restarts it fails with ``stuck``.
"""

from __future__ import annotations

import logging

from tributary import jobs, runs
from tributary.backend import Backend
from tributary.errors import TransientError
from tributary.intake import publish_first_stage
from tributary.logs import event, for_job
from tributary.topology import JOBS_COLLECTION

_log = logging.getLogger("tributary.watchdog")


class Stuck(TransientError):
    code = "stuck"
    retryable = False


def sweep(backend: Backend, limit: int = 500) -> dict[str, int]:
    """Restart or fail every active job past its deadline. Returns counts."""
    now = backend.clock.now()
    now_text = jobs.dump_timestamp(now)
    overdue = backend.documents.query(
        JOBS_COLLECTION,
        where=[("state", "in", list(jobs.ACTIVE_STATES)), ("deadline_at", "<", now_text)],
        limit=limit,
    )
    counts = {"restarted": 0, "failed": 0}
    for job_id, _doc in overdue:
        outcome = _recover(backend, job_id)
        if outcome:
            counts[outcome] += 1
    return counts


def _recover(backend: Backend, job_id: str) -> str | None:
    settings = backend.settings
    now = backend.clock.now()
    with backend.documents.transaction() as txn:
        data = txn.get(jobs.job_path(job_id))
        if data is None:
            return None
        job = jobs.load(data)
        # Re-check inside the transaction: it may have moved on since the query.
        if job.state in jobs.TERMINAL_STATES or job.deadline_at is None or job.deadline_at >= now:
            return None
        log = for_job(job_id, run=job.run)
        since = job.updated_at.isoformat()
        if job.recoveries >= settings.max_delivery_attempts:
            error = Stuck(
                f"the job made no progress for {settings.stuck_after_s:.0f} s, "
                f"{job.recoveries} times; it was given up"
            )
            txn.set(
                jobs.job_path(job_id), jobs.dump(jobs.fail(job, error=error, stage=None, now=now))
            )
            event(log, "watchdog_fail", logging.ERROR, recoveries=job.recoveries)
            return "failed"
        restarted = runs.restart(
            txn,
            job,
            origin="watchdog",
            now=now,
            stuck_after_s=settings.stuck_after_s,
            recoveries=job.recoveries + 1,
        )
    publish_first_stage(backend, restarted)
    event(log, "watchdog_restart", logging.WARNING, since=since, run=restarted.run)
    return "restarted"
