"""Starting and stopping the emulators: ready when returned, nothing left when stopped."""

from __future__ import annotations

import json
import os
import signal
import socket
import urllib.request
from pathlib import Path

import pytest

from tributary import emulators
from tributary.config import load_settings
from tributary.emulators import Emulator, EmulatorError, EmulatorStack


def _listening(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def test_storage_emulator_serves_then_stops_without_a_trace(tmp_path: Path) -> None:
    with emulators.start_storage(log_dir=tmp_path) as storage:
        host, port = storage.host_port.split(":")
        assert host == "127.0.0.1"
        assert storage.env["STORAGE_EMULATOR_HOST"] == f"http://{storage.host_port}"
        with urllib.request.urlopen(f"http://{storage.host_port}/storage/v1/b") as response:
            assert json.load(response)["kind"] == "storage#buckets"
        pgid = storage.pid
    assert not _listening(int(port))
    assert not _group_alive(pgid)


def test_a_stack_starts_all_three_and_stop_leaves_nothing_listening(tmp_path: Path) -> None:
    stack = EmulatorStack(project="stack-test", log_dir=tmp_path)
    with stack:
        env = stack.env
        running = [stack.pubsub, stack.firestore, stack.storage]
        assert all(running)
        assert env["PUBSUB_EMULATOR_HOST"] == stack.pubsub.host_port  # type: ignore[union-attr]
        assert env["FIRESTORE_EMULATOR_HOST"] == stack.firestore.host_port  # type: ignore[union-attr]
        assert env["STORAGE_EMULATOR_HOST"].startswith("http://127.0.0.1:")
        assert env["GOOGLE_CLOUD_PROJECT"] == "stack-test"
        ports = {e.port for e in running if e is not None}
        assert len(ports) == 3
        pubsub_topic = f"http://{env['PUBSUB_EMULATOR_HOST']}/v1/projects/stack-test/topics/t-one"
        request = urllib.request.Request(pubsub_topic, method="PUT")
        with urllib.request.urlopen(request, timeout=5) as response:
            assert json.load(response)["name"] == "projects/stack-test/topics/t-one"
        overrides = stack.settings_overrides()
        assert overrides["backend"] == "gcp"
        assert overrides["pubsub_emulator_host"] == env["PUBSUB_EMULATOR_HOST"]
        pgids = [e.pid for e in running if e is not None]
    assert not any(_listening(port) for port in ports)
    assert not any(_group_alive(pgid) for pgid in pgids)
    assert stack.env == {
        k: "stack-test" for k in ("GOOGLE_CLOUD_PROJECT", "GCLOUD_PROJECT", "TRIBUTARY_GCP_PROJECT")
    }


def test_an_emulator_that_dies_at_start_reports_its_last_output(tmp_path: Path) -> None:
    port = emulators.free_port()
    script = "import sys; print('binding failed: address in use'); sys.exit(3)"
    emulator = Emulator(
        "broken",
        ["python3", "-c", script],
        port=port,
        ready_path="/",
        env={},
        log_dir=tmp_path,
    )

    with pytest.raises(EmulatorError) as raised:
        emulator.wait_ready(timeout=10)

    assert "exited with status 3" in str(raised.value)
    assert "binding failed: address in use" in str(raised.value)


def test_an_emulator_that_never_answers_is_stopped_after_the_timeout(tmp_path: Path) -> None:
    port = emulators.free_port()
    emulator = Emulator(
        "silent",
        ["python3", "-c", "import time; print('starting slowly', flush=True); time.sleep(60)"],
        port=port,
        ready_path="/",
        env={},
        log_dir=tmp_path,
    )

    with pytest.raises(EmulatorError) as raised:
        emulator.wait_ready(timeout=1.0)

    assert "did not answer" in str(raised.value) and "starting slowly" in str(raised.value)
    assert emulator.process.poll() == -signal.SIGTERM
    assert not _group_alive(emulator.pid)


def test_the_dev_stack_backend_runs_on_emulators_it_started(tmp_path: Path) -> None:
    settings = load_settings({}, data_dir=tmp_path / "data")

    backend, stack = emulators.start_emulator_backend(settings)
    try:
        assert backend.settings.backend == "gcp"
        info = backend.blobs.put("notes/hello.txt", b"hello", content_type="text/plain")
        assert backend.blobs.get("notes/hello.txt", info.generation) == b"hello"
        assert (tmp_path / "data" / "emulators" / "pubsub.log").exists()
        ports = [e.port for e in (stack.pubsub, stack.firestore, stack.storage) if e is not None]
    finally:
        backend.close()
        stack.stop()
    assert len(ports) == 3 and not any(_listening(port) for port in ports)
