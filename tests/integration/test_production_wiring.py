"""The production wiring on the emulators: every function of main.py under the Functions
Framework, fed by Pub/Sub push, with the cough app; a listener in another process
sees the job move.

Firestore's documentation promises a listener a new snapshot each time the document
changes, and the emulator delivers every one, so the listener must see every state,
in order.
"""

from __future__ import annotations

import itertools
import json
import queue
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from apps.cough.synth import synth_clip
from tests import audiofiles
from tests.conftest_emulators import emulator_settings
from tests.helpers import wait_terminal
from tributary import client
from tributary.backend import Backend
from tributary.config import Settings
from tributary.emulators import EmulatorStack
from tributary.functions_stack import FunctionsStack

SCRIPT = Path(__file__).parent / "scripts" / "watch_job.py"
STATES = ["queued", "preprocessing", "inference", "lookup", "succeeded"]


@pytest.fixture
def functions(
    emulator_stack: EmulatorStack, cough_settings: Settings, tmp_path: Path
) -> Iterator[FunctionsStack]:
    settings = emulator_settings(
        emulator_stack, tmp_path / "data", models_dir=cough_settings.model_root
    )
    with FunctionsStack(emulator_stack, settings, log_dir=tmp_path / "functions") as stack:
        yield stack


class Listener:
    """``watch_job.py`` in a process of its own; its JSON lines, as they come."""

    def __init__(self, job_id: str, env: dict[str, str], timeout: float) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(SCRIPT), job_id, str(timeout)],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.lines: queue.Queue[dict[str, Any]] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(json.loads(line))

    def wait_ready(self, timeout: float) -> None:
        assert self.lines.get(timeout=timeout) == {"ready": True}

    def changes(self, timeout: float) -> list[dict[str, Any]]:
        """Every change it printed, once it exited (because the job is final)."""
        assert self.process.wait(timeout) == 0, "the listener timed out"
        changes = []
        while not self.lines.empty():
            changes.append(self.lines.get())
        return changes

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


def test_an_upload_runs_through_every_function_and_a_listener_sees_each_state(
    functions: FunctionsStack, backend: Backend
) -> None:
    clip = audiofiles.encode(synth_clip("dry", seed=3, seconds=3.0), 16000, "webm_opus")
    job_id = str(uuid.uuid4())
    listener = Listener(job_id, functions.env, timeout=90)
    try:
        listener.wait_ready(timeout=30)
        client.submit_file(backend, clip, app="cough", filename="cough.webm", job_id=job_id)
        changes = listener.changes(timeout=120)
    finally:
        listener.stop()

    states = [c["state"] for c in changes]
    assert [s for i, s in enumerate(states) if i == 0 or s != states[i - 1]] == STATES
    assert [c["seq"] for c in changes] == sorted(c["seq"] for c in changes)
    assert [c["has_result"] for c in changes if c["state"] == "succeeded"] == [True]
    assert not any(c["has_result"] for c in changes if c["state"] != "succeeded")

    doc = wait_terminal(backend, job_id, timeout=10)
    assert doc["result"]["label"] == "dry"
    assert doc["input"]["bucket"] == functions.settings.bucket
    stages = [doc["stages"][s] for s in ("preprocess", "inference", "lookup")]
    assert [s["attempts"] for s in stages] == [1, 1, 1]
    for before, after in itertools.pairwise(stages):
        assert before["finished_at"] <= after["started_at"]


def test_a_query_document_becomes_a_job_through_on_query(
    functions: FunctionsStack, backend: Backend
) -> None:
    job_id = client.submit_text(backend, "a cough, described", app="cough")

    doc = wait_terminal(backend, job_id, timeout=60)
    # on_query made it a job and preprocess ran it: the cough app wants a recording.
    assert doc["state"] == "failed"
    assert doc["error"]["code"] == "invalid_input"
    assert doc["error"]["stage"] == "preprocess"
    assert doc["stages"]["preprocess"]["attempts"] == 1
