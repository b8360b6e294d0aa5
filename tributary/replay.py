"""Replay: run selected finished jobs again as run + 1 (after a new model, a fixed bug).

A replay selects jobs (app, time range, state, model version), and for each one,
in one transaction, archives the current run (:mod:`tributary.runs`) and starts
the next with ``run_origin = "replay:<id>"``; then it publishes the job's first
stage message. The run takes the model version active when it starts.

Resumable: the checkpoint ``replays/{id}`` holds the selection and a cursor
(jobs are visited in ``(created_at, job_id)`` order). A job this replay already
restarted carries its origin, so a replay killed at any moment and started
again never restarts a job twice; one left queued without its message (killed
between the commit and the publish) gets the message again.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from schemas import JobDocument, format_timestamp
from tributary import jobs, runs
from tributary.backend import Backend
from tributary.intake import publish_first_stage
from tributary.logs import event, for_job
from tributary.registry import registry_for
from tributary.topology import JOBS_COLLECTION

REPLAYS = "replays"
PAGE = 200
Outcome = Literal["restarted", "already", "in_flight"]


@dataclass(frozen=True)
class Selection:
    """Which jobs to run again. Times are ISO 8601 strings (UTC), as jobs store them."""

    app: str | None = None
    since: str | None = None
    until: str | None = None
    states: tuple[str, ...] = ("succeeded", "failed")
    # Only jobs whose model version sorts before this one (v2 < v10).
    older_than: str | None = None
    # Only jobs whose model is not the app's active version.
    stale: bool = False
    limit: int | None = None

    def key(self) -> str:
        canonical = json.dumps(asdict(self), sort_keys=True)
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Selection:
        return cls(**{**data, "states": tuple(data.get("states", ()))})


@dataclass
class Checkpoint:
    replay_id: str
    selection: Selection
    cursor: tuple[str, str] | None = None  # (created_at, job_id) of the last job visited
    counts: Counter[str] = field(default_factory=Counter)
    status: str = "publishing"  # publishing → published → done

    @property
    def origin(self) -> str:
        return f"replay:{self.replay_id}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "replay_id": self.replay_id,
            "selection": asdict(self.selection),
            "selection_key": self.selection.key(),
            "cursor": list(self.cursor) if self.cursor else None,
            "counts": dict(self.counts),
            "status": self.status,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Checkpoint:
        cursor = data.get("cursor")
        return cls(
            replay_id=data["replay_id"],
            selection=Selection.from_dict(data["selection"]),
            cursor=(cursor[0], cursor[1]) if cursor else None,
            counts=Counter(data.get("counts", {})),
            status=data.get("status", "publishing"),
        )


def checkpoint_path(replay_id: str) -> str:
    return f"{REPLAYS}/{replay_id}"


def save(backend: Backend, checkpoint: Checkpoint) -> None:
    now = format_timestamp(backend.clock.now())
    backend.documents.merge(
        checkpoint_path(checkpoint.replay_id), {**checkpoint.to_dict(), "updated_at": now}
    )


def load(backend: Backend, replay_id: str) -> Checkpoint | None:
    data = backend.documents.get(checkpoint_path(replay_id))
    return Checkpoint.from_dict(data) if data else None


def unfinished(backend: Backend, selection: Selection) -> Checkpoint | None:
    """An earlier replay of the same selection that did not finish, to resume."""
    rows = backend.documents.query(REPLAYS, where=[("selection_key", "==", selection.key())])
    pending = [Checkpoint.from_dict(data) for _id, data in rows if data.get("status") != "done"]
    return pending[-1] if pending else None


def start(backend: Backend, selection: Selection) -> Checkpoint:
    checkpoint = Checkpoint(replay_id=uuid.uuid4().hex[:12], selection=selection)
    save(backend, checkpoint)
    return checkpoint


# -- selecting -------------------------------------------------------------------


def selected(
    backend: Backend, selection: Selection, after: tuple[str, str] | None = None
) -> Iterator[JobDocument]:
    """The jobs a selection names, in (created_at, job_id) order, from ``after`` on."""
    version_filter = _version_filter(backend, selection)
    where: list[tuple[str, str, Any]] = []
    if selection.app:
        where.append(("app", "==", selection.app))
    if selection.states:
        where.append(("state", "in", list(selection.states)))
    if selection.until:
        where.append(("created_at", "<", selection.until))
    lower = max(filter(None, [selection.since, after[0] if after else None]), default=None)
    seen, limit = 0, PAGE
    while True:
        page_where = [*where, ("created_at", ">=", lower)] if lower else where
        rows = backend.documents.query(
            JOBS_COLLECTION, where=page_where, order_by="created_at", limit=limit
        )
        fresh = [
            jobs.load(data)
            for job_id, data in rows
            if "state" in data and (after is None or (data["created_at"], job_id) > after)
        ]
        for job in fresh:
            after = (format_timestamp(job.created_at), job.job_id)
            if version_filter(job):
                yield job
                seen += 1
                if selection.limit is not None and seen >= selection.limit:
                    return
        if len(rows) < limit or after is None:
            return
        if fresh:
            lower, limit = after[0], PAGE
        else:  # a whole page of jobs created in one microsecond: read further
            limit *= 2


def _version_filter(backend: Backend, selection: Selection) -> Callable[[JobDocument], bool]:
    registry = registry_for(backend)
    orders: dict[str, list[str]] = {}  # per app: one registry read, not one per job

    def keep(job: JobDocument) -> bool:
        version = job.model.version if job.model else None
        if selection.stale and version == registry.active(job.app):
            return False
        if selection.older_than:
            if job.app not in orders:
                orders[job.app] = registry.order(job.app)
            order = orders[job.app]
            if version is None or selection.older_than not in order or version not in order:
                return version is None  # never ran a model: it is older than any
            return order.index(version) < order.index(selection.older_than)
        return True

    return keep


def plan(backend: Backend, selection: Selection) -> Counter[tuple[str, str, str]]:
    """What a replay would restart, by (app, state, model version): the dry run."""
    counts: Counter[tuple[str, str, str]] = Counter()
    for job in selected(backend, selection):
        counts[(job.app, job.state, job.model.version if job.model else "-")] += 1
    return counts


# -- restarting ------------------------------------------------------------------


def restart(backend: Backend, job_id: str, origin: str) -> Outcome:
    """Start ``job_id`` over as run + 1 for this replay, once."""
    settings = backend.settings
    with backend.documents.transaction() as txn:
        data = txn.get(jobs.job_path(job_id))
        if data is None:
            return "in_flight"
        job = jobs.load(data)
        if job.run_origin == origin:
            if job.state == "queued" and not job.stages:
                publish_first_stage(backend, job)  # killed before the publish last time
            return "already"
        if job.state not in jobs.TERMINAL_STATES:
            return "in_flight"
        restarted = runs.restart(
            txn, job, origin=origin, now=backend.clock.now(), stuck_after_s=settings.stuck_after_s
        )
    publish_first_stage(backend, restarted)
    event(for_job(job_id, run=restarted.run), "replayed", origin=origin)
    return "restarted"


def replayed_jobs(
    backend: Backend, origin: str, states: list[str] | None = None
) -> list[JobDocument]:
    where: list[tuple[str, str, Any]] = [("run_origin", "==", origin)]
    if states:
        where.append(("state", "in", states))
    return [jobs.load(data) for _id, data in backend.documents.query(JOBS_COLLECTION, where=where)]
