"""The pipeline end to end on the gcp backend, against the emulators, with the echo app.

The same scenarios as the harness tests on the embedded backend: real Pub/Sub
redelivery, dead-lettering and Firestore transactions underneath.
"""

from __future__ import annotations

import dataclasses

from tests import fakeapps
from tests.helpers import DuplicatingBus, wait_for, wait_terminal
from tributary import client, deadletters
from tributary.backend import Backend
from tributary.ports import SubscriptionConfig
from tributary.runner import Runner
from tributary.topology import TOPIC_RESULTS

STAGES = ("preprocess", "inference", "lookup")


def test_an_upload_becomes_a_job_that_moves_through_every_stage_with_timings(
    gcp_backend: Backend,
) -> None:
    with Runner(gcp_backend):
        job_id = client.submit_file(gcp_backend, b"hello", app="echo", filename="hello.txt")
        doc = wait_terminal(gcp_backend, job_id, timeout=60)

    assert doc["state"] == "succeeded"
    assert doc["result"] == {"length": 5, "sum": 6.0}
    assert doc["input"]["kind"] == "blob"
    assert doc["input"]["bucket"] == gcp_backend.settings.bucket
    assert doc["model"] == {"name": "echo", "version": "v1"}
    for stage in STAGES:
        record = doc["stages"][stage]
        assert record["run"] == 1 and record["attempts"] == 1
        assert record["ms"] is not None and record["finished_at"] >= record["started_at"]


def test_a_query_document_becomes_a_job(gcp_backend: Backend) -> None:
    with Runner(gcp_backend):
        job_id = client.submit_text(gcp_backend, "four", app="echo")
        doc = wait_terminal(gcp_backend, job_id, timeout=60)

    assert doc["state"] == "succeeded"
    assert doc["result"] == {"length": 4, "sum": 6.0}


def test_every_message_delivered_twice_still_runs_each_stage_once(gcp_backend: Backend) -> None:
    duplicating = dataclasses.replace(gcp_backend, bus=DuplicatingBus(gcp_backend.bus))
    results = "test-results"
    gcp_backend.bus.create_subscription(SubscriptionConfig(name=results, topic=TOPIC_RESULTS))
    job_ids = [client.submit_text(duplicating, f"job {i}", app="echo") for i in range(20)]

    with Runner(duplicating, threads_per_subscription=2):
        for job_id in job_ids:
            assert wait_terminal(duplicating, job_id, timeout=120)["state"] == "succeeded"

    for job_id in job_ids:
        assert [fakeapps.CALLS[(job_id, stage)] for stage in STAGES] == [1, 1, 1], job_id
    announced: set[str] = set()
    while messages := gcp_backend.bus.pull(results, max_messages=100, timeout=1.0):
        gcp_backend.bus.ack(results, [m.ack_id for m in messages])
        announced.update(m.attributes["job_id"] for m in messages)
    assert announced == set(job_ids)


def test_transient_failures_are_retried_until_the_stage_succeeds(gcp_backend: Backend) -> None:
    with Runner(gcp_backend):
        job_id = client.submit_text(gcp_backend, "flaky:2", app="echo")
        doc = wait_terminal(gcp_backend, job_id, timeout=60)

    assert doc["state"] == "succeeded"
    assert doc["stages"]["inference"]["attempts"] == 3
    assert fakeapps.CALLS[(job_id, "inference")] == 3


def test_a_permanent_error_fails_the_job_on_the_first_attempt(gcp_backend: Backend) -> None:
    with Runner(gcp_backend):
        job_id = client.submit_text(gcp_backend, "fail:permanent", app="echo")
        doc = wait_terminal(gcp_backend, job_id, timeout=60)

    assert doc["state"] == "failed"
    assert doc["error"]["code"] == "invalid_input"
    assert doc["error"]["stage"] == "preprocess"
    assert doc["error"]["retryable"] is False
    assert doc["stages"]["preprocess"]["attempts"] == 1
    assert fakeapps.CALLS[(job_id, "inference")] == 0


def test_exhausted_retries_are_dead_lettered_by_pub_sub_and_fail_the_job(
    gcp_backend: Backend,
) -> None:
    attempts = gcp_backend.settings.max_delivery_attempts
    with Runner(gcp_backend):
        job_id = client.submit_text(gcp_backend, f"flaky:{attempts + 1}", app="echo")
        doc = wait_terminal(gcp_backend, job_id, timeout=90)
        assert doc["state"] == "failed"
        assert doc["error"]["code"] == "exhausted_retries"
        dead = wait_for(lambda: deadletters.list_dead_letters(gcp_backend), timeout=30)

    assert [d["job_id"] for d in dead] == [job_id]
    assert dead[0]["subscription"] == "tributary-infer"
    assert fakeapps.CALLS[(job_id, "inference")] == attempts
