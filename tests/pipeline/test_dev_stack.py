"""`tributary dev` and `tributary submit` as a user runs them, in separate processes."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from apps.cough.synth import synth_clip
from tests import audiofiles
from tributary.config import Settings

TRIBUTARY = [sys.executable, "-m", "tributary.cli"]


def bundled_models(root: Path, *built: Settings) -> Path:
    """A models directory holding both bundled models, or dev would train the missing one."""
    models = root / "models"
    models.mkdir()
    for settings in built:
        for app in ("cough", "text2brain"):
            if (settings.model_root / app).is_dir():
                (models / app).symlink_to(settings.model_root / app, target_is_directory=True)
    return models


def _env(models: Path, data_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "TRIBUTARY_DATA_DIR": str(data_dir),
        "TRIBUTARY_MODELS_DIR": str(models),
    }


class _Lines:
    """Collects a process's stderr lines on a thread, so waiting on one never blocks."""

    def __init__(self, stream) -> None:  # type: ignore[no-untyped-def]
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream) -> None:  # type: ignore[no-untyped-def]
        for line in stream:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, pattern: str, timeout: float) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.lines:
                if match := re.search(pattern, line):
                    return match
            time.sleep(0.05)
        raise AssertionError(f"no line matching {pattern!r} in:\n" + "\n".join(self.lines))


def test_dev_stack_serves_submit_and_stops_cleanly(
    cough_settings: Settings, text2brain_settings: Settings, tmp_path: Path
) -> None:
    env = _env(bundled_models(tmp_path, cough_settings, text2brain_settings), tmp_path / "data")
    dev = subprocess.Popen(
        [*TRIBUTARY, "dev", "--port", "0"],
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    try:
        logs = _Lines(dev.stderr)
        url = logs.wait_for(r"API listening on (http://\S+)", timeout=60)[1]
        with urllib.request.urlopen(f"{url}/healthz", timeout=5) as response:
            assert json.load(response)["status"] == "ok"

        upload = tmp_path / "cough.webm"
        upload.write_bytes(
            audiofiles.encode(
                synth_clip("wet", 5, seconds=3.0), audiofiles.SAMPLE_RATE, "webm_opus"
            )
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
        assert document["state"] == "succeeded" and document["result"]["label"] in (
            "dry",
            "wet",
            "normal",
        )
        progress = [line for line in submit.stderr.splitlines() if line.startswith("[")]
        assert progress and "succeeded" in progress[-1]
        # The dev stack's workers did the work, not a pipeline inside `submit`.
        logs.wait_for(rf"\[{document['job_id'][:8]}\] job succeeded", timeout=10)

        listing = subprocess.run(
            [*TRIBUTARY, "jobs"], env=env, capture_output=True, text=True, timeout=30
        )
        assert document["job_id"] in listing.stdout and "succeeded" in listing.stdout
    finally:
        dev.send_signal(signal.SIGINT)
        code = dev.wait(timeout=30)
    assert code == 0
    logs.wait_for("stopped", timeout=5)
    host, port = url.removeprefix("http://").split(":")
    with socket.socket() as probe:
        assert probe.connect_ex((host, int(port))) != 0  # nothing left listening
    assert not (tmp_path / "data" / "dev.json").exists()
