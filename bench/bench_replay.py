"""Replay benchmark: reprocessing throughput beside the pipeline's own, in the same run.

    .venv/bin/python bench/bench_replay.py [--quick]

A batch of 5-s webm cough clips is processed by one worker process per core
(the steady-state throughput of bench_cough.py), then a second model version is
promoted and ``tributary replay`` restarts every job while the same workers run
them again. Target: replay throughput ≥ 80 % of the pipeline's. Writes
bench/results/replay.json.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_cough import _clip_files
from bench.common import ROOT, write_results
from schemas import format_timestamp
from tributary import client, models, reprocess
from tributary.backend import Backend, open_backend
from tributary.config import Settings, load_settings
from tributary.devstack import ensure_models
from tributary.registry import registry_for
from tributary.replay import Selection

BUNDLED = ROOT / ".tributary" / "models"
TARGET = 0.8


def _wait_run(backend: Backend, n: int, run: int, timeout: float = 1800) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = backend.documents.query("jobs", where=[("run", "==", run)])
        done = [d for _id, d in rows if d.get("state") in ("succeeded", "failed")]
        if len(done) == n:
            failed = [d for d in done if d["state"] == "failed"]
            assert not failed, failed[0].get("error")
            return
        time.sleep(0.1)
    raise AssertionError(f"run {run} did not finish for all {n} jobs")


def _workers(settings: Settings, cores: int) -> list[subprocess.Popen[bytes]]:
    env = {
        **os.environ,
        "TRIBUTARY_DATA_DIR": str(settings.data_dir),
        "TRIBUTARY_MODELS_DIR": str(settings.model_root),
        "TRIBUTARY_MODEL_REFRESH_S": "0.5",
    }
    command = [str(ROOT / ".venv" / "bin" / "tributary"), "--log-level", "WARNING", "worker"]
    return [subprocess.Popen(command, env=env) for _ in range(cores)]


def measure(workdir: Path, n: int) -> dict[str, Any]:
    webm, _wav = _clip_files(workdir)
    shutil.copytree(BUNDLED, workdir / "models")
    settings = load_settings({}, data_dir=workdir / "data", models_dir=workdir / "models")
    active = models.resolve_version(settings, "cough")
    backend = open_backend(settings)
    # The "new model": the same network published as a new version (replay cost does
    # not depend on the weights; it depends on the pipeline).
    registry_for(backend).add("cough", models.version_dir(settings, "cough", active), "next")
    cores = os.cpu_count() or 1
    data = webm.read_bytes()
    workers = _workers(settings, cores)
    try:
        # Warm the workers first: both measurements are of a steady state.
        warm = [client.submit_file(backend, data, app="cough", filename="w.webm") for _ in range(4)]
        _wait_run(backend, len(warm), run=1)
        cutoff = format_timestamp(backend.clock.now())
        started = time.perf_counter()
        for _ in range(n):
            client.submit_file(backend, data, app="cough", filename="c.webm")
        _wait_run(backend, n + len(warm), run=1)
        pipeline_s = time.perf_counter() - started

        registry_for(backend).promote("cough", "next")
        time.sleep(1.0)  # the workers' registry cache (0.5 s) sees the promotion
        started = time.perf_counter()
        checkpoint, _ = reprocess.open_checkpoint(
            backend, Selection(app="cough", since=cutoff), resume=None, fresh=True
        )
        reprocess.publish(backend, checkpoint, rate=0)
        published_s = time.perf_counter() - started
        _wait_run(backend, n, run=2)
        replay_s = time.perf_counter() - started
        summary = reprocess.summarize(backend, checkpoint)
        assert summary.versions == {"next": n}, summary.versions
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(timeout=60)
        backend.close()
    pipeline_rate, replay_rate = n / pipeline_s, n / replay_s
    return {
        "clips": n,
        "worker_processes": cores,
        "pipeline_clips_per_s": pipeline_rate,
        "replay_clips_per_s": replay_rate,
        "replay_over_pipeline": replay_rate / pipeline_rate,
        "replay_restart_s": published_s,
        "target_ratio": TARGET,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer clips (a smoke run)")
    args = parser.parse_args()
    ensure_models(
        load_settings({}, data_dir=ROOT / ".tributary"), lambda m: print(m, file=sys.stderr)
    )
    workdir = Path(tempfile.mkdtemp(prefix="bench-replay-"))
    try:
        result = measure(workdir, n=100 if args.quick else 400)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    path = write_results("replay", {"replay": result})
    ok = "✓" if result["replay_over_pipeline"] >= TARGET else "✗"
    print("| measure | value |\n|---|---|")
    print(f"| pipeline (first run) | {result['pipeline_clips_per_s']:.1f} clips/s |")
    print(f"| replay (run 2, new version) | {result['replay_clips_per_s']:.1f} clips/s |")
    print(f"| replay / pipeline | {result['replay_over_pipeline']:.0%} {ok} (≥ {TARGET:.0%}) |")
    print(f"| restarting all jobs | {result['replay_restart_s']:.2f} s |")
    print(f"\nwrote {path.relative_to(ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
