"""The watchdog entry point, as Cloud Scheduler calls it, on the embedded backend."""

from __future__ import annotations

from collections.abc import Callable

from flask.testing import FlaskClient

from tests.helpers import job
from tributary import client, intake, jobs
from tributary.backend import Backend
from tributary.topology import STAGES

Client = Callable[[str], FlaskClient]
LONG_AGO = "2000-01-01T00:00:00.000000Z"


def _job_whose_message_was_lost(backend: Backend, **fields: object) -> str:
    """A job that started, whose stage message is gone, and whose deadline has passed."""
    job_id = client.submit_text(backend, "hello", app="echo", uid="alice")
    intake.job_from_query(backend, jobs.job_path(job_id), job(backend, job_id) or {})
    subscription = STAGES[0].subscription
    lost = backend.bus.pull(subscription, timeout=1.0)
    backend.bus.ack(subscription, [m.ack_id for m in lost])
    backend.documents.merge(jobs.job_path(job_id), {"deadline_at": LONG_AGO, **fields})
    return job_id


def test_a_sweep_restarts_a_job_whose_message_was_lost(function: Client, served: Backend) -> None:
    job_id = _job_whose_message_was_lost(served)

    response = function("watchdog").post("/")

    assert response.status_code == 200
    assert response.get_json() == {"restarted": 1, "failed": 0}
    doc = job(served, job_id)
    assert doc is not None and doc["state"] == "queued"
    assert doc["run"] == 2 and doc["recoveries"] == 1 and doc["deadline_at"] > LONG_AGO
    [restarted] = served.bus.pull(STAGES[0].subscription, timeout=1.0)
    assert restarted.attributes["job_id"] == job_id
    # The next minute's sweep finds nothing left to do.
    assert function("watchdog").post("/").get_json() == {"restarted": 0, "failed": 0}


def test_a_sweep_fails_a_job_restarted_as_often_as_allowed(
    function: Client, served: Backend
) -> None:
    limit = served.settings.max_delivery_attempts
    job_id = _job_whose_message_was_lost(served, recoveries=limit)

    response = function("watchdog").post("/")

    assert response.get_json() == {"restarted": 0, "failed": 1}
    doc = job(served, job_id)
    assert doc is not None and doc["state"] == "failed"
    assert doc["error"]["code"] == "stuck" and doc["run"] == 1


def test_only_a_post_runs_a_sweep(function: Client, served: Backend) -> None:
    job_id = _job_whose_message_was_lost(served)

    response = function("watchdog").get("/")

    assert response.status_code == 405
    assert response.get_json()["error"]["code"] == "method_not_allowed"
    doc = job(served, job_id)
    assert doc is not None and doc["run"] == 1
