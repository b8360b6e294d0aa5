"""No job is left stuck: lost messages are recovered, hopeless jobs fail as `stuck`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.helpers import job, wait_terminal
from tributary import client, intake, watchdog
from tributary.backend import Backend, open_backend
from tributary.clock import ManualClock
from tributary.config import Settings
from tributary.runner import Runner
from tributary.topology import STAGES, SUB_ON_QUERY


@pytest.fixture
def clocked(settings: Settings) -> Iterator[tuple[Backend, ManualClock]]:
    clock = ManualClock()
    opened = open_backend(settings.with_overrides(stuck_after_s=60.0), clock)
    yield opened, clock
    opened.close()


def _lose_first_message(backend: Backend) -> str:
    """Create a job whose first stage message is lost (acked unprocessed)."""
    job_id = client.submit_text(backend, "hello", app="echo")
    [created] = backend.bus.pull(SUB_ON_QUERY)
    backend.bus.ack(SUB_ON_QUERY, [created.ack_id])
    intake.job_from_query(backend, f"jobs/{job_id}", job(backend, job_id) or {})
    [lost] = backend.bus.pull(STAGES[0].subscription)
    backend.bus.ack(STAGES[0].subscription, [lost.ack_id])
    return job_id


def test_a_job_whose_message_was_lost_is_restarted_and_succeeds(
    clocked: tuple[Backend, ManualClock],
) -> None:
    backend, clock = clocked
    job_id = _lose_first_message(backend)
    assert watchdog.sweep(backend) == {"restarted": 0, "failed": 0}  # not overdue yet
    clock.advance(61)
    assert watchdog.sweep(backend) == {"restarted": 1, "failed": 0}
    doc = job(backend, job_id)
    assert doc is not None and doc["run"] == 2 and doc["recoveries"] == 1
    with Runner(backend, watchdog_enabled=False):
        doc = wait_terminal(backend, job_id)
    assert doc["state"] == "succeeded" and doc["run"] == 2


def test_a_job_that_never_progresses_fails_as_stuck(clocked: tuple[Backend, ManualClock]) -> None:
    backend, clock = clocked
    job_id = _lose_first_message(backend)
    for _ in range(backend.settings.max_delivery_attempts):
        clock.advance(61)
        assert watchdog.sweep(backend)["restarted"] == 1
    clock.advance(61)
    assert watchdog.sweep(backend) == {"restarted": 0, "failed": 1}
    doc = job(backend, job_id)
    assert doc is not None and doc["state"] == "failed" and doc["error"]["code"] == "stuck"


def test_finished_jobs_are_left_alone(clocked: tuple[Backend, ManualClock]) -> None:
    backend, clock = clocked
    with Runner(backend, watchdog_enabled=False):
        job_id = client.submit_text(backend, "hello", app="echo")
        wait_terminal(backend, job_id)
    clock.advance(3600)
    assert watchdog.sweep(backend) == {"restarted": 0, "failed": 0}
