"""Reprocessing on the gcp backend against the emulators: replay, seek and snapshots."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from tests.helpers import wait_for, wait_terminal
from tests.unit.test_registry import _build
from tributary import client, jobs, reprocess, runs
from tributary.backend import Backend
from tributary.registry import ModelRegistry
from tributary.replay import Selection
from tributary.runner import Runner
from tributary.topology import STAGES

JOBS_SUBSCRIPTION = STAGES[0].subscription


@pytest.fixture
def echo(gcp_backend_factory: Callable[..., Backend]) -> Backend:
    backend = gcp_backend_factory(model_refresh_s=0.0)
    for version in ("e1", "e2"):
        _build(backend.settings, "echo", version)
    ModelRegistry(backend).promote("echo", "e1")
    return backend


def _finished(backend: Backend, n: int, tag: str) -> list[str]:
    with Runner(backend):
        ids = [client.submit_text(backend, f"{tag} {i}", app="echo") for i in range(n)]
        for job_id in ids:
            assert wait_terminal(backend, job_id, timeout=60)["state"] == "succeeded"
    return ids


def _job(backend: Backend, job_id: str) -> dict[str, Any]:
    document = backend.documents.get(jobs.job_path(job_id))
    assert document is not None
    return document


def test_replay_restarts_stale_jobs_and_keeps_their_history(echo: Backend) -> None:
    ids = _finished(echo, 4, "replay")
    ModelRegistry(echo).promote("echo", "e2")
    with Runner(echo):
        checkpoint, _ = reprocess.open_checkpoint(
            echo, Selection(app="echo", stale=True), resume=None, fresh=False
        )
        reprocess.publish(echo, checkpoint, rate=0)
        assert reprocess.wait(echo, checkpoint, timeout=60)
    summary = reprocess.summarize(echo, checkpoint)
    assert (summary.restarted, summary.succeeded, summary.versions) == (4, 4, {"e2": 4})
    for job_id in ids:
        assert _job(echo, job_id)["result"]["versions"] == ["e2", "e2", "e2"]
        assert runs.history(echo.documents, job_id)[0]["model"]["version"] == "e1"


def test_a_seek_to_a_time_reruns_only_jobs_whose_model_changed(echo: Backend) -> None:
    before = echo.clock.now() - timedelta(seconds=2)
    ids = _finished(echo, 3, "seek")
    ModelRegistry(echo).promote("echo", "e2")
    with Runner(echo):
        echo.bus.seek(JOBS_SUBSCRIPTION, before)
        wait_for(
            lambda: all(
                _job(echo, j)["run"] == 2 and _job(echo, j)["state"] == "succeeded" for j in ids
            ),
            timeout=60,
        )
        echo.bus.seek(JOBS_SUBSCRIPTION, before)  # now on the active version: duplicates
        with pytest.raises(AssertionError):  # nothing moves to run 3 while we watch
            wait_for(lambda: any(_job(echo, j)["run"] > 2 for j in ids), timeout=5)
    for job_id in ids:
        doc = _job(echo, job_id)
        assert (doc["run"], doc["run_origin"], doc["model"]["version"]) == (2, "seek", "e2")


def test_a_seek_to_a_snapshot_reruns_what_came_after_it(echo: Backend) -> None:
    first = _finished(echo, 2, "first")
    name = f"before-{echo.settings.bucket}"
    echo.bus.create_snapshot(name, JOBS_SUBSCRIPTION)  # type: ignore[attr-defined]
    second = _finished(echo, 2, "second")
    ModelRegistry(echo).promote("echo", "e2")
    with Runner(echo):
        echo.bus.seek_to_snapshot(JOBS_SUBSCRIPTION, name)  # type: ignore[attr-defined]
        wait_for(lambda: all(_job(echo, j)["run"] == 2 for j in second), timeout=60)
    assert all(_job(echo, j)["run"] == 1 for j in first)
