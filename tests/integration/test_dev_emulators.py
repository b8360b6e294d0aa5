"""`tributary dev --backend emulators` as a user runs it: the Cloud Functions under
functions-framework, wired by push on the emulators; submit works against it unchanged."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

from apps.cough.synth import synth_clip
from tests import audiofiles
from tests.helpers import wait_for
from tests.pipeline.test_dev_stack import _Lines

TRIBUTARY = [sys.executable, "-m", "tributary.cli"]


def test_dev_on_the_emulators_serves_submit_and_stops_everything(
    bundled_models_dir: Path, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "TRIBUTARY_DATA_DIR": str(tmp_path / "data"),
        "TRIBUTARY_MODELS_DIR": str(bundled_models_dir),
    }
    dev = subprocess.Popen(
        [*TRIBUTARY, "dev", "--backend", "emulators", "--port", "0"],
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    try:
        logs = _Lines(dev.stderr)
        logs.wait_for(r"API listening on (http://\S+)", timeout=120)
        backend_env = json.loads((tmp_path / "data" / "dev.json").read_text())["env"]
        hosts = [
            backend_env[f"TRIBUTARY_{name}_EMULATOR_HOST"]
            for name in ("PUBSUB", "FIRESTORE", "STORAGE")
        ]
        upload = tmp_path / "cough.m4a"
        upload.write_bytes(
            audiofiles.encode(synth_clip("dry", 9, seconds=2.0), audiofiles.SAMPLE_RATE, "m4a_aac")
        )
        submit = subprocess.run(
            [*TRIBUTARY, "submit", str(upload), "--app", "cough", "--follow"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert submit.returncode == 0, submit.stderr
        document = json.loads(submit.stdout)
        assert document["state"] == "succeeded"
        # The Cloud Functions did the work, each in its own functions-framework process.
        lookup_log = (tmp_path / "data" / "functions" / "function-lookup.log").read_text()
        assert f"[{document['job_id'][:8]}] job succeeded" in lookup_log
        # The watchdog function runs on a schedule, as Cloud Scheduler runs it.
        watchdog_log = tmp_path / "data" / "functions" / "function-watchdog.log"
        wait_for(lambda: "watchdog sweep: 0 restarted, 0 failed" in watchdog_log.read_text(), 30)
    finally:
        dev.send_signal(signal.SIGINT)
        code = dev.wait(timeout=60)
    assert code == 0
    for host in hosts:  # every emulator stopped: nothing listens where they did
        address, port = host.removeprefix("http://").rsplit(":", 1)
        with socket.socket() as probe:
            assert probe.connect_ex((address, int(port))) != 0, host
