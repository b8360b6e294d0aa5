"""Drive a replay to the end: restart the selected jobs, wait, say what changed.

:mod:`tributary.replay` decides what one job's replay means; this module walks
the selection with a rate limit, a progress bar and a checkpoint, waits for the
new runs to finish, and compares each new result with the run before it.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, TextIO

from schemas import JobDocument
from tributary import jobs, replay, runs
from tributary.apps import get_app
from tributary.backend import Backend
from tributary.config import Settings
from tributary.errors import NotFound
from tributary.progress import ProgressBar, RateLimiter
from tributary.replay import Checkpoint, Selection

_SAVE_EVERY = 50


@dataclass
class Summary:
    replay_id: str
    restarted: int = 0
    already: int = 0
    in_flight: int = 0
    succeeded: int = 0
    failed: int = 0
    unfinished: int = 0
    unchanged: int = 0
    # What differs from the run before, by name: "label", "articles", "state".
    changed: Counter[str] = field(default_factory=Counter)
    versions: Counter[str] = field(default_factory=Counter)

    def to_dict(self) -> dict[str, Any]:
        return {
            "replay_id": self.replay_id,
            "restarted": self.restarted,
            "already_restarted": self.already,
            "skipped_in_flight": self.in_flight,
            "succeeded": self.succeeded,
            "failed": self.failed,
            "unfinished": self.unfinished,
            "unchanged": self.unchanged,
            "changed": dict(self.changed),
            "versions": dict(self.versions),
        }

    def lines(self) -> list[str]:
        out = [
            f"replay {self.replay_id}: {self.restarted + self.already} jobs run again "
            f"({self.succeeded} succeeded, {self.failed} failed, {self.unfinished} unfinished)",
        ]
        if self.in_flight:
            out.append(f"  {self.in_flight} skipped: still running when selected")
        for version, count in sorted(self.versions.items()):
            out.append(f"  model {version}: {count}")
        changes = ", ".join(f"{name} {count}" for name, count in sorted(self.changed.items()))
        out.append(f"  changed: {changes or 'nothing'}; unchanged: {self.unchanged}")
        return out


def open_checkpoint(
    backend: Backend, selection: Selection, *, resume: str | None, fresh: bool
) -> tuple[Checkpoint, bool]:
    """The replay to run and whether it is resumed: by id, or the unfinished one alike."""
    if resume:
        found = replay.load(backend, resume)
        if found is None:
            raise NotFound(f"no replay {resume!r} to resume; `tributary replay --list` shows them")
        return found, True
    if not fresh:
        pending = replay.unfinished(backend, selection)
        if pending is not None:
            return pending, True
    return replay.start(backend, selection), False


def publish(
    backend: Backend, checkpoint: Checkpoint, *, rate: float, stream: TextIO | None = None
) -> None:
    """Restart every selected job not restarted yet, saving the cursor as it goes."""
    if checkpoint.status != "publishing":
        return
    total = checkpoint.counts.get("selected")
    if total is None:
        total = sum(replay.plan(backend, checkpoint.selection).values())
        checkpoint.counts["selected"] = total
        replay.save(backend, checkpoint)
    visited = sum(checkpoint.counts[k] for k in ("restarted", "already", "in_flight"))
    bar = ProgressBar("restarting", total, stream=stream, done=visited)
    limiter = RateLimiter(rate)
    for n, job in enumerate(replay.selected(backend, checkpoint.selection, checkpoint.cursor)):
        limiter.wait()
        outcome = replay.restart(backend, job.job_id, checkpoint.origin)
        checkpoint.counts[outcome] += 1
        checkpoint.cursor = (jobs.dump_timestamp(job.created_at), job.job_id)
        if n % _SAVE_EVERY == _SAVE_EVERY - 1:
            replay.save(backend, checkpoint)
        bar.advance()
    checkpoint.status = "published"
    replay.save(backend, checkpoint)
    bar.close()


def wait(
    backend: Backend, checkpoint: Checkpoint, *, timeout: float, stream: TextIO | None = None
) -> bool:
    """Wait until every job this replay restarted has finished; False on timeout."""
    total = len(replay.replayed_jobs(backend, checkpoint.origin))
    bar = ProgressBar("processing", total, stream=stream)
    deadline = time.monotonic() + timeout
    while True:
        active = replay.replayed_jobs(backend, checkpoint.origin, list(jobs.ACTIVE_STATES))
        bar.update(total - len(active))
        if not active:
            bar.close()
            return True
        if time.monotonic() > deadline:
            bar.close(f"{len(active)} still running after {timeout:.0f} s")
            return False
        time.sleep(0.25)


def summarize(backend: Backend, checkpoint: Checkpoint) -> Summary:
    """Compare every replayed job's new run with the run before it."""
    summary = Summary(
        checkpoint.replay_id,
        restarted=checkpoint.counts["restarted"],
        already=checkpoint.counts["already"],
        in_flight=checkpoint.counts["in_flight"],
    )
    for job in replay.replayed_jobs(backend, checkpoint.origin):
        if job.state not in jobs.TERMINAL_STATES:
            summary.unfinished += 1
            continue
        if job.state == "succeeded":
            summary.succeeded += 1
        else:
            summary.failed += 1
        summary.versions[job.model.version if job.model else "-"] += 1
        before = runs.previous_run(backend.documents, job) or {}
        differences = compare(job, before, backend.settings)
        summary.changed.update(differences)
        if not differences:
            summary.unchanged += 1
    return summary


def compare(job: JobDocument, before: dict[str, Any], settings: Settings) -> list[str]:
    """The names of what differs between a finished job and its previous run."""
    if before.get("state") != job.state:
        return ["state"]
    if job.state != "succeeded":
        old_code = (before.get("error") or {}).get("code")
        return [] if job.error and job.error.code == old_code else ["error"]
    app = get_app(job.app, settings)
    old, new = app.comparable(before.get("result") or {}), app.comparable(job.result or {})
    return [name for name in sorted(set(old) | set(new)) if old.get(name) != new.get(name)]


def finish(backend: Backend, checkpoint: Checkpoint, summary: Summary) -> None:
    checkpoint.status = "done" if not summary.unfinished else checkpoint.status
    backend.documents.merge(
        replay.checkpoint_path(checkpoint.replay_id),
        {"status": checkpoint.status, "summary": summary.to_dict()},
    )
