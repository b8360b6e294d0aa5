"""Failure and recovery on the production wiring: main.py's functions on the emulators,
fed by Pub/Sub push, with the echo app registered in the function processes.

- The emulator's push requests carry no ``deliveryAttempt``: a stage that keeps
  failing must still give up by itself on the last attempt (counting its claims on
  the job document), not leave it to the dead-letter handler.
- A job whose stage lease expired and whose message is gone (nothing will ever
  redeliver it) is restarted by the ``watchdog`` function, which the stack's
  scheduler calls as Cloud Scheduler would.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from schemas import TextInput
from tests.conftest_emulators import emulator_settings
from tests.helpers import wait_for, wait_terminal
from tributary import client, deadletters, jobs
from tributary.backend import Backend
from tributary.emulators import EmulatorStack
from tributary.functions_stack import FunctionsStack

MAIN_WITH_ECHO = Path(__file__).parent / "scripts" / "main_with_echo.py"


@pytest.fixture(scope="module")
def functions(
    emulator_stack: EmulatorStack, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FunctionsStack]:
    root = tmp_path_factory.mktemp("recovery")
    settings = emulator_settings(emulator_stack, root / "data")
    stack = FunctionsStack(
        emulator_stack, settings, log_dir=root / "functions", source=MAIN_WITH_ECHO
    )
    with stack:
        yield stack


def test_a_stage_that_keeps_failing_gives_up_itself_though_push_carries_no_attempt(
    functions: FunctionsStack, backend: Backend
) -> None:
    attempts = functions.settings.max_delivery_attempts
    job_id = client.submit_text(backend, "crash", app="echo")

    doc = wait_terminal(backend, job_id, timeout=120)

    assert doc["state"] == "failed"
    assert doc["error"]["code"] == "exhausted_retries"
    assert doc["error"]["stage"] == "inference"
    # The stage's own verdict, with the last error; the dead-letter handler's would
    # say the message "was moved to the dead-letter queue".
    assert doc["error"]["message"].startswith(
        f"inference failed {attempts} times with a temporary error; last: RuntimeError: boom"
    ), doc["error"]
    assert doc["stages"]["inference"]["attempts"] == attempts
    # Pub/Sub still moved the message on, and the dead-letter handler recorded it.
    dead = wait_for(lambda: deadletters.list_dead_letters(backend), timeout=60)
    assert [(d["job_id"], d["stage"]) for d in dead] == [(job_id, "inference")]


def test_a_job_stuck_with_an_expired_lease_is_restarted_by_the_watchdog_function(
    functions: FunctionsStack, backend: Backend
) -> None:
    job_id = str(uuid.uuid4())
    long_ago = datetime.now(UTC) - timedelta(hours=1)
    queued = jobs.new_job(
        job_id=job_id,
        app="echo",
        job_input=TextInput(text="hello"),
        owner="alice",
        now=long_ago,
        stuck_after_s=60.0,
    )
    # preprocess claimed it an hour ago, then its worker and its message vanished.
    claimed = jobs.claim(
        queued, stage="preprocess", run=1, now=long_ago, lease_s=10.0, stuck_after_s=60.0
    )
    assert isinstance(claimed, jobs.Claimed)
    backend.documents.create(jobs.job_path(job_id), jobs.dump(claimed.job))

    doc = wait_terminal(backend, job_id, timeout=90)

    assert doc["state"] == "succeeded", doc.get("error")
    assert doc["run"] == 2 and doc["recoveries"] == 1
    assert doc["result"] == {"length": len("hello"), "sum": 6.0}
    assert {record["run"] for record in doc["stages"].values()} == {2}
