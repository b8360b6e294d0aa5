"""The stage harness end to end on the embedded backend, with a small real app."""

from __future__ import annotations

import dataclasses

from tests import fakeapps
from tests.helpers import DuplicatingBus, wait_for, wait_terminal
from tributary import client, deadletters
from tributary.backend import Backend
from tributary.ports import Bus
from tributary.runner import Runner
from tributary.topology import TOPIC_RESULTS


def test_a_job_moves_through_every_stage_with_timings(backend: Backend) -> None:
    with Runner(backend):
        job_id = client.submit_file(backend, b"hello", app="echo", filename="hello.txt")
        doc = wait_terminal(backend, job_id)
    assert doc["state"] == "succeeded"
    assert doc["result"] == {"length": 5, "sum": 6.0}
    assert doc["model"] == {"name": "echo", "version": "v1"}
    for stage in ("preprocess", "inference", "lookup"):
        record = doc["stages"][stage]
        assert record["run"] == 1 and record["attempts"] == 1
        assert record["ms"] is not None and record["finished_at"] >= record["started_at"]
        assert record["lease_id"] is None


def test_every_message_delivered_twice_still_runs_each_stage_once(backend: Backend) -> None:
    duplicating = dataclasses.replace(backend, bus=DuplicatingBus(backend.bus))
    results, features = "test-results", "test-features"
    from tributary.ports import SubscriptionConfig

    backend.bus.create_subscription(SubscriptionConfig(name=results, topic=TOPIC_RESULTS))
    # What the preprocess stage sent the next one: every message went out twice.
    backend.bus.create_subscription(SubscriptionConfig(name=features, topic="tributary-features"))
    job_ids = [client.submit_text(duplicating, f"job {i}", app="echo") for i in range(200)]
    with Runner(duplicating, threads_per_subscription=2):
        for job_id in job_ids:
            assert wait_terminal(duplicating, job_id, timeout=120)["state"] == "succeeded"
    for job_id in job_ids:
        for stage in ("preprocess", "inference", "lookup"):
            assert fakeapps.CALLS[(job_id, stage)] == 1, (job_id, stage)
    announced = set()
    while messages := backend.bus.pull(results, max_messages=100):
        backend.bus.ack(results, [m.ack_id for m in messages])
        announced.update(m.attributes["job_id"] for m in messages)
    assert announced == set(job_ids)
    sent: list[str] = []
    while messages := backend.bus.pull(features, max_messages=100):
        backend.bus.ack(features, [m.ack_id for m in messages])
        sent.extend(m.attributes["job_id"] for m in messages)
    assert sorted(sent) == sorted(job_ids * 2)


def test_transient_failures_are_retried_until_the_stage_succeeds(backend: Backend) -> None:
    with Runner(backend):
        job_id = client.submit_text(backend, "flaky:2", app="echo")
        doc = wait_terminal(backend, job_id)
    assert doc["state"] == "succeeded"
    assert doc["stages"]["inference"]["attempts"] == 3
    assert fakeapps.CALLS[(job_id, "inference")] == 3


def test_a_permanent_error_fails_the_job_on_the_first_attempt(backend: Backend) -> None:
    with Runner(backend):
        job_id = client.submit_text(backend, "fail:permanent", app="echo")
        doc = wait_terminal(backend, job_id)
    assert doc["state"] == "failed"
    assert doc["error"]["code"] == "invalid_input"
    assert doc["error"]["stage"] == "preprocess"
    assert doc["error"]["retryable"] is False
    assert doc["stages"]["preprocess"]["attempts"] == 1
    assert fakeapps.CALLS[(job_id, "inference")] == 0


def test_exhausted_retries_dead_letter_the_message_and_requeue_reruns_it(backend: Backend) -> None:
    attempts = backend.settings.max_delivery_attempts
    with Runner(backend):
        # Fails on more attempts than one run allows, then succeeds.
        job_id = client.submit_text(backend, f"flaky:{attempts + 1}", app="echo")
        doc = wait_terminal(backend, job_id)
        assert doc["state"] == "failed"
        assert doc["error"]["code"] == "exhausted_retries"
        assert "flaky failure" in doc["error"]["message"]
        dead = wait_for(lambda: deadletters.list_dead_letters(backend))
        assert [d["job_id"] for d in dead] == [job_id]
        assert dead[0]["subscription"] == "tributary-infer"

        deadletters.requeue(backend, dead[0]["id"])
        doc = wait_for(lambda: (d := wait_terminal(backend, job_id)) and d["run"] == 2 and d)
    assert doc["state"] == "succeeded" and doc["run"] == 2
    assert deadletters.list_dead_letters(backend) == []


def test_an_unexpected_exception_never_leaks_a_traceback(backend: Backend) -> None:
    with Runner(backend):
        job_id = client.submit_text(backend, "crash", app="echo")
        doc = wait_terminal(backend, job_id)
    assert doc["error"]["code"] == "exhausted_retries"
    assert "Traceback" not in doc["error"]["message"]
    assert "RuntimeError: boom" in doc["error"]["message"]


def test_stopping_the_runner_mid_stream_loses_nothing(backend: Backend) -> None:
    job_ids = [client.submit_text(backend, f"job {i}", app="echo") for i in range(60)]
    runner = Runner(backend).start()
    wait_for(lambda: sum(_succeeded(backend, j) for j in job_ids) >= 10)
    runner.stop()
    finished_at_stop = sum(_succeeded(backend, j) for j in job_ids)
    assert finished_at_stop < len(job_ids)  # it really stopped mid-stream
    with Runner(backend):
        for job_id in job_ids:
            assert wait_terminal(backend, job_id)["state"] == "succeeded"
    for job_id in job_ids:
        assert [fakeapps.CALLS[(job_id, s)] for s in ("preprocess", "inference", "lookup")] == [
            1,
            1,
            1,
        ]


def _succeeded(backend: Backend, job_id: str) -> bool:
    doc = backend.documents.get(f"jobs/{job_id}")
    return bool(doc and doc.get("state") == "succeeded")


class _LosesFirstPublishTo(DuplicatingBus):
    """A bus whose first publish to one topic fails, as a crash after a commit would."""

    def __init__(self, inner: Bus, topic: str) -> None:
        super().__init__(inner)
        self._inner_bus = inner
        self._topic = topic
        self.failed = False

    def publish(self, topic: str, data: bytes, attributes: dict[str, str] | None = None) -> str:
        if topic == self._topic and not self.failed:
            self.failed = True
            raise ConnectionError("the bus went away")
        return self._inner_bus.publish(topic, data, attributes)

    def publish_in_transaction(
        self, txn: object, topic: str, data: bytes, attributes: dict[str, str]
    ) -> str | None:
        return None  # as a bus apart from the documents: the stages use their outbox


def test_a_stage_finished_but_not_announced_sends_its_saved_message(backend: Backend) -> None:
    flaky = _LosesFirstPublishTo(backend.bus, "tributary-features")
    wrapped = dataclasses.replace(backend, bus=flaky)
    with Runner(wrapped):
        job_id = client.submit_text(wrapped, "hello", app="echo")
        doc = wait_terminal(wrapped, job_id)
    assert flaky.failed and doc["state"] == "succeeded"
    assert fakeapps.CALLS[(job_id, "preprocess")] == 1  # not redone: its saved message was sent
    assert doc["stages"]["preprocess"]["finished_at"] <= doc["stages"]["inference"]["started_at"]


def test_on_the_embedded_backend_a_stage_publishes_its_next_message_with_its_record(
    backend: Backend,
) -> None:
    # Bus and documents share one database: no outbox entry, no publish after the commit.
    with Runner(backend):
        job_id = client.submit_text(backend, "hello", app="echo")
        doc = wait_terminal(backend, job_id)
    assert doc["state"] == "succeeded"
    for stage in ("preprocess", "inference"):
        assert backend.documents.get(f"jobs/{job_id}/outbox/{stage}") is None
