"""Reprocessing cough history after a new model: replay all, and replay killed halfway."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from apps.cough.synth import KINDS, synth_clip
from apps.cough.train import TrainingConfig, train
from tests.audiofiles import wav_bytes
from tests.conftest import _source_digest
from tests.helpers import wait_for
from tributary import client, jobs, models, reprocess, runs
from tributary.backend import Backend, open_backend
from tributary.config import Settings
from tributary.registry import ModelRegistry
from tributary.replay import Selection
from tributary.runner import Runner

ROOT = Path(__file__).resolve().parents[2]
RATE = 16000
# A second model, smaller and trained on other clips: it disagrees with the first on some.
V2_CONFIG = TrainingConfig(n_clips=240, epochs=6)


@pytest.fixture(scope="module")
def two_versions(cough_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A model root of its own holding v1 (the test model, active) and v2 (not promoted)."""
    root = tmp_path_factory.mktemp("reprocess-models")
    shutil.copytree(cough_settings.model_root, root / "models")
    settings = cough_settings.with_overrides(models_dir=root / "models", model_refresh_s=0.0)
    # Trained once per version of the app's sources, like the other test models.
    cache = ROOT / ".tributary" / "test-cache" / f"cough-v2-{_source_digest('cough')}"
    if not (cache / models.META_FILE).is_file():
        staging = tmp_path_factory.mktemp("v2-build")
        train(Settings(models_dir=staging), version="v2", seed=11, promote=False, config=V2_CONFIG)
        shutil.rmtree(cache, ignore_errors=True)
        shutil.copytree(staging / "cough" / "v2", cache)
    shutil.copytree(cache, models.version_dir(settings, "cough", "v2"))
    return settings


def _v1(settings: Settings) -> str:
    """The test model every job starts on (whatever another test promoted since)."""
    (version,) = [v for v in models.list_versions(settings, "cough") if v != "v2"]
    return version


def _clip(i: int) -> bytes:
    # Short clips, some of them faint and noisy, so the two models disagree on a few.
    samples = synth_clip(KINDS[i % 2], seed=10_000 + i, sample_rate=RATE, seconds=0.6)
    noise = np.random.default_rng(i).normal(0, 0.02 * (i % 5), samples.shape)
    return wav_bytes((samples * (0.2 + 0.2 * (i % 4)) + noise).astype(np.float32), RATE)


def _all_terminal(backend: Backend, n: int, run: int) -> list[dict[str, Any]] | None:
    rows = [doc for _id, doc in backend.documents.query("jobs") if "state" in doc]
    done = [d for d in rows if d["run"] == run and d["state"] in jobs.TERMINAL_STATES]
    return done if len(done) == n else None


def _process(backend: Backend, n: int) -> list[str]:
    with Runner(backend, threads_per_subscription=2):
        ids = [
            client.submit_file(backend, _clip(i), app="cough", filename=f"{i}.wav")
            for i in range(n)
        ]
        wait_for(lambda: _all_terminal(backend, n, 1), timeout=600, interval=0.5)
    return ids


@pytest.fixture
def history(two_versions: Settings, tmp_path: Path) -> Iterator[Backend]:
    backend = open_backend(two_versions.with_overrides(data_dir=tmp_path / "data"))
    ModelRegistry(backend).promote("cough", _v1(two_versions))
    yield backend
    backend.close()


def test_a_thousand_jobs_replayed_on_v2_end_at_run_two_with_an_exact_change_count(
    history: Backend,
) -> None:
    v1 = _v1(history.settings)
    ids = _process(history, 1000)
    assert all(
        history.documents.get(jobs.job_path(j))["model"]["version"] == v1  # type: ignore[index]
        for j in ids
    )
    ModelRegistry(history).promote("cough", "v2")
    with Runner(history, threads_per_subscription=2):
        checkpoint, _ = reprocess.open_checkpoint(
            history, Selection(app="cough", older_than="v2"), resume=None, fresh=False
        )
        reprocess.publish(history, checkpoint, rate=0)
        assert reprocess.wait(history, checkpoint, timeout=600)
    summary = reprocess.summarize(history, checkpoint)

    recount = 0
    for job_id in ids:
        job = history.documents.get(jobs.job_path(job_id))
        assert job is not None
        assert (job["run"], job["state"], job["model"]["version"]) == (2, "succeeded", "v2")
        before = history.documents.get(runs.run_path(job_id, 1))
        assert before is not None and before["model"]["version"] == v1
        assert history.documents.get(runs.run_path(job_id, 2)) is None  # never run three times
        recount += before["result"]["label"] != job["result"]["label"]
    all_jobs = [d for _id, d in history.documents.query("jobs") if "state" in d]
    assert len(all_jobs) == 1000  # none lost, none duplicated
    assert (summary.restarted, summary.succeeded, summary.unfinished) == (1000, 1000, 0)
    assert summary.changed.get("label", 0) == recount
    assert summary.unchanged == 1000 - recount
    assert 0 < recount < 1000  # the two models really differ, and mostly agree


def _cli_env(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRIBUTARY_")}
    env.update(
        TRIBUTARY_DATA_DIR=str(settings.data_dir),
        TRIBUTARY_MODELS_DIR=str(settings.model_root),
        TRIBUTARY_ACK_DEADLINE_S="3",
        TRIBUTARY_LEASE_S="3",
        TRIBUTARY_MIN_BACKOFF_S="0.1",
        TRIBUTARY_MODEL_REFRESH_S="0",
        PYTHONPATH=str(ROOT),
    )
    return env


def _replay_command() -> list[str]:
    return [sys.executable, "-m", "tributary.cli", "replay", "--app", "cough", "--rate", "20"]


def test_a_replay_killed_halfway_finishes_the_rest_without_rerunning_finished_jobs(
    history: Backend,
) -> None:
    n = 200
    ids = _process(history, n)
    ModelRegistry(history).promote("cough", "v2")
    env = _cli_env(history.settings)
    first = subprocess.Popen(
        _replay_command(), env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:

        def halfway() -> bool:
            """Half the jobs restarted and some of them finished again (on a loaded machine
            the second may come well after the first)."""
            rows = history.documents.query("replays")
            restarted = rows[0][1].get("counts", {}).get("restarted", 0) if rows else 0
            again = history.documents.query("jobs", where=[("run", "==", 2)], limit=n)
            return restarted >= n // 2 and any(d.get("state") == "succeeded" for _i, d in again)

        wait_for(halfway, timeout=300, interval=0.2)
        done_before = {
            d["job_id"]: d["stages"]["lookup"]["finished_at"]
            for _id, d in history.documents.query("jobs")
            if d.get("run") == 2 and d.get("state") == "succeeded"
        }
        first.send_signal(signal.SIGKILL)
        first.wait(30)
    finally:
        if first.poll() is None:
            first.kill()
    assert 0 < len(done_before) < n

    second = subprocess.run(
        _replay_command(), env=env, cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert second.returncode == 0, second.stderr[-3000:]
    assert "resuming replay" in second.stderr
    summary = json.loads(second.stdout)
    assert summary["succeeded"] == n and summary["unfinished"] == 0
    for job_id in ids:
        job = history.documents.get(jobs.job_path(job_id))
        assert job is not None and (job["run"], job["state"]) == (2, "succeeded")
        assert job["model"]["version"] == "v2"
        assert history.documents.get(runs.run_path(job_id, 2)) is None
        if job_id in done_before:  # finished before the kill: not run again
            assert job["stages"]["lookup"]["finished_at"] == done_before[job_id]


def test_a_running_worker_serves_a_promoted_version_without_a_restart(
    history: Backend,
) -> None:
    v1 = _v1(history.settings)
    worker = subprocess.Popen(
        [sys.executable, "-m", "tributary.cli", "worker"],
        env={**_cli_env(history.settings), "TRIBUTARY_MODEL_REFRESH_S": "0.5"},
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        first = client.submit_file(history, _clip(1), app="cough", filename="1.wav")
        done = wait_for(lambda: _terminal(history, first), timeout=120, interval=0.2)
        assert done["model"]["version"] == v1 and done["result"]["model"]["version"] == v1
        ModelRegistry(history).promote("cough", "v2")
        time.sleep(1.0)  # the worker's registry cache lives 0.5 s
        second = client.submit_file(history, _clip(2), app="cough", filename="2.wav")
        done = wait_for(lambda: _terminal(history, second), timeout=120, interval=0.2)
        assert done["model"]["version"] == "v2" and done["result"]["model"]["version"] == "v2"
        assert worker.poll() is None  # the same process throughout
    finally:
        worker.terminate()
        worker.wait(timeout=60)


def _terminal(backend: Backend, job_id: str) -> dict[str, Any] | None:
    document = backend.documents.get(jobs.job_path(job_id))
    return document if document and document.get("state") in jobs.TERMINAL_STATES else None
