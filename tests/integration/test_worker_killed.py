"""The inference function's process is killed mid-run and started again: the job still
succeeds, through Pub/Sub push redelivery, and no stage's result is written twice."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from apps.cough.synth import synth_clip
from tests import audiofiles
from tests.conftest_emulators import emulator_settings
from tests.helpers import wait_for, wait_terminal
from tributary import client, jobs
from tributary.backend import Backend
from tributary.config import Settings
from tributary.emulators import EmulatorStack
from tributary.functions_stack import FunctionsStack
from tributary.ports import Change

# The emulator re-pushes a failed delivery about once a second (whatever the retry
# policy) and counts refused connections as attempts: a short lease, and room for
# the attempts a restart takes, keep the message away from the dead-letter topic.
LEASE_S = 3.0
MAX_ATTEMPTS = 30


@pytest.fixture
def functions(
    emulator_stack: EmulatorStack, cough_settings: Settings, tmp_path: Path
) -> Iterator[FunctionsStack]:
    settings = emulator_settings(
        emulator_stack,
        tmp_path / "data",
        models_dir=cough_settings.model_root,
        lease_s=LEASE_S,
        max_delivery_attempts=MAX_ATTEMPTS,
    )
    with FunctionsStack(emulator_stack, settings, log_dir=tmp_path / "functions") as stack:
        yield stack


def test_a_killed_inference_worker_is_redelivered_to_and_the_job_succeeds_once(
    functions: FunctionsStack, backend: Backend
) -> None:
    # A long clip on a cold worker (the model loads inside the stage): time to catch it.
    clip = audiofiles.encode(synth_clip("wet", seed=5, seconds=20.0), 16000, "webm_opus")
    job_id = str(uuid.uuid4())
    seen: list[dict[str, Any]] = []
    killed = threading.Event()
    at_kill: list[dict[str, Any] | None] = []

    def on_change(change: Change) -> None:
        if change.data is None:
            return
        seen.append(change.data)
        if change.data.get("state") == "inference" and not killed.is_set():
            functions.kill("infer")
            at_kill.append(backend.documents.get(jobs.job_path(job_id)))
            killed.set()

    watch = backend.documents.watch(jobs.job_path(job_id), on_change)
    try:
        client.submit_file(backend, clip, app="cough", filename="cough.webm", job_id=job_id)
        assert killed.wait(60), "the job never reached inference"
        # Killed mid-run: the stage was claimed and had not finished.
        assert at_kill[0] is not None and at_kill[0]["state"] == "inference"
        assert at_kill[0]["stages"]["inference"]["finished_at"] is None
        functions.restart("infer")
        doc = wait_terminal(backend, job_id, timeout=120)
        # The listener may deliver the final change a moment after a read sees it.
        wait_for(lambda: seen[-1].get("state") in jobs.TERMINAL_STATES, timeout=10)
    finally:
        watch.close()

    assert doc["state"] == "succeeded", doc.get("error")
    assert doc["result"]["label"] in {"dry", "wet", "normal"}
    attempts = {stage: doc["stages"][stage]["attempts"] for stage in doc["stages"]}
    assert attempts == {"preprocess": 1, "inference": 2, "lookup": 1}
    # The result was written once: it appeared in one change and never changed again.
    results = [change.get("result") for change in seen]
    assert sum(1 for a, b in zip([None, *results], results, strict=False) if a != b) == 1
    assert results[-1] == doc["result"]
