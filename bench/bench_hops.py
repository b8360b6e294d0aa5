"""Stage-hop latency: the embedded backend beside the emulators wired as production, same run.

    .venv/bin/python bench/bench_hops.py [--jobs 50]

The same cough jobs (a 3-s webm clip each, submitted one at a time) go through
the embedded backend (the in-process runner) and through the Cloud Functions of
``main.py`` under the Functions Framework on the emulators, fed by Pub/Sub push.
A hop is the time from a stage's ``finished_at`` to the next stage's
``started_at`` on the job document (the intake hop: the job's ``created_at`` to
preprocess's start). End to end is submit → ``succeeded`` seen by a reader
polling every 5 ms. Prints a markdown table; writes bench/results/hops.json.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from apps.cough.synth import synth_clip
from bench.common import ROOT, percentile, write_results
from tests import audiofiles
from tributary import client, jobs
from tributary.backend import Backend, open_backend
from tributary.config import Settings, load_settings
from tributary.devstack import ensure_models
from tributary.emulators import EmulatorStack
from tributary.functions_stack import FunctionsStack
from tributary.runner import Runner

MODELS = ROOT / ".tributary" / "models"
HOPS = {
    "intake → preprocess": (None, "preprocess"),
    "preprocess → inference": ("preprocess", "inference"),
    "inference → lookup": ("inference", "lookup"),
}
WARMUP = 3
TARGET_EMULATOR_HOP_MS = 30.0


def _at(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def _hops(doc: dict[str, Any]) -> dict[str, float]:
    stages = doc["stages"]
    hops = {}
    for name, (before, after) in HOPS.items():
        left = _at(doc["created_at"]) if before is None else _at(stages[before]["finished_at"])
        hops[name] = (_at(stages[after]["started_at"]) - left) * 1000
    return hops


def _run_jobs(backend: Backend, clip: bytes, count: int) -> list[tuple[float, dict[str, float]]]:
    """Submit ``count`` jobs one at a time; (end-to-end ms, hops) of each."""
    measured = []
    for _ in range(count):
        started = time.perf_counter()
        job_id = client.submit_file(backend, clip, app="cough", filename="cough.webm")
        deadline = time.monotonic() + 60
        while True:
            doc = backend.documents.get(jobs.job_path(job_id))
            if doc is not None and doc["state"] in jobs.TERMINAL_STATES:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"job {job_id} did not finish within 60 s")
            time.sleep(0.005)
        e2e = (time.perf_counter() - started) * 1000
        if doc["state"] != "succeeded":
            raise RuntimeError(f"job {job_id} failed: {doc['error']}")
        measured.append((e2e, _hops(doc)))
    return measured


def _summary(measured: list[tuple[float, dict[str, float]]]) -> dict[str, Any]:
    def stats(values: list[float]) -> dict[str, float]:
        return {"p50": round(percentile(values, 50), 2), "p99": round(percentile(values, 99), 2)}

    return {
        "end_to_end_ms": stats([e2e for e2e, _ in measured]),
        "hops_ms": {hop: stats([hops[hop] for _, hops in measured]) for hop in HOPS},
    }


def embedded(clip: bytes, count: int, workdir: Path) -> dict[str, Any]:
    backend = open_backend(load_settings({}, data_dir=workdir / "embedded", models_dir=MODELS))
    try:
        with Runner(backend):
            _run_jobs(backend, clip, WARMUP)
            return _summary(_run_jobs(backend, clip, count))
    finally:
        backend.close()


def emulators(clip: bytes, count: int, workdir: Path) -> dict[str, Any]:
    with EmulatorStack(log_dir=workdir / "emulators") as stack:
        settings = load_settings(
            {},
            **{**stack.settings_overrides(), "gcp_project": f"bench-{uuid.uuid4().hex[:8]}"},
            data_dir=workdir / "gcp",
            models_dir=MODELS,
        )
        with FunctionsStack(stack, settings, log_dir=workdir / "functions") as functions:
            backend = open_backend(functions.settings)
            try:
                _run_jobs(backend, clip, WARMUP)
                return _summary(_run_jobs(backend, clip, count))
            finally:
                backend.close()


def _table(results: dict[str, Any]) -> str:
    rows = [
        "| | embedded p50 | embedded p99 | emulators p50 | emulators p99 |",
        "|---|---|---|---|---|",
    ]
    for label, hop in [*((f"hop {h} (ms)", h) for h in HOPS), ("end to end (ms)", None)]:
        ours, emu = (
            results[side]["hops_ms"][hop] if hop else results[side]["end_to_end_ms"]
            for side in ("embedded", "emulators")
        )
        rows.append(f"| {label} | {ours['p50']} | {ours['p99']} | {emu['p50']} | {emu['p99']} |")
    return "\n".join(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=50)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    ensure_models(Settings(models_dir=MODELS), progress=print)
    clip = audiofiles.encode(synth_clip("dry", seed=42, seconds=3.0), 16000, "webm_opus")
    with tempfile.TemporaryDirectory(prefix="tributary-bench-hops-") as tmp:
        workdir = Path(tmp)
        results = {
            "jobs": args.jobs,
            "clip": "3-s webm (opus), cough app",
            "embedded": embedded(clip, args.jobs, workdir),
            "emulators": emulators(clip, args.jobs, workdir),
            "target_emulator_hop_ms": TARGET_EMULATOR_HOP_MS,
        }
    path = write_results("hops", results)
    print(_table(results))
    print(f"\nwritten to {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
