"""Cough benchmark: Tributary beside the original service's approach, in the same run.

    .venv/bin/python bench/bench_cough.py [--quick]

Measures cold start (fresh process → first result), warm end-to-end latency
(submit → job succeeded on the embedded backend, 5-s webm clip), batch throughput
on this machine's cores with one worker process per core plus one, as recommended,
and with one per core (steady, and with worker start-up, and the workers' CPU time
per clip) with the per-clip compute floor beside it, and the peak memory of a
worker. Prints a markdown table and writes bench/results/cough.json.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from apps.cough.synth import synth_clip
from bench import cough_baseline
from bench.common import ROOT, peak_rss_mib, percentile, run_child, write_results
from tests import audiofiles
from tributary import client
from tributary.backend import open_backend
from tributary.config import Settings, load_settings
from tributary.devstack import ensure_models
from tributary.runner import Runner

MODELS = ROOT / ".tributary" / "models"


def _clip_files(workdir: Path) -> tuple[Path, Path]:
    clip = synth_clip("dry", seed=42, seconds=5.0)
    webm = workdir / "cough.webm"
    webm.write_bytes(audiofiles.encode(clip, audiofiles.SAMPLE_RATE, "webm_opus"))
    wav = workdir / "cough.wav"
    wav.write_bytes(audiofiles.encode(clip, audiofiles.SAMPLE_RATE, "wav"))
    return webm, wav


def _settings(data_dir: Path) -> Settings:
    return load_settings({}, data_dir=data_dir, models_dir=MODELS)


def _env(data_dir: Path) -> dict[str, str]:
    return {"TRIBUTARY_DATA_DIR": str(data_dir), "TRIBUTARY_MODELS_DIR": str(MODELS)}


def cold_start(webm: Path, wav: Path, workdir: Path, reps: int) -> dict[str, Any]:
    ours = [
        run_child(["bench/cough_child.py", "cold", str(webm)], _env(workdir / "cold"))
        for _ in range(reps)
    ]
    assert not any(r["tensorflow_imported"] for r in ours), "the serving path imported TensorFlow"
    cli = [_time_cli(webm, workdir / f"cli-{i}") for i in range(reps)]
    baseline = [
        run_child(["bench/cough_baseline.py", "cold", str(wav)]) for _ in range(max(2, reps // 2))
    ]
    return {
        "ours_first_result_s": statistics.median(r["wall_s"] for r in ours),
        "ours_cli_submit_s": statistics.median(cli),
        "baseline_first_result_s": statistics.median(r["wall_s"] for r in baseline),
        "ours_peak_rss_mib": max(r["peak_rss_mib"] for r in ours),
        "baseline_peak_rss_mib": max(r["peak_rss_mib"] for r in baseline),
    }


def _time_cli(webm: Path, data_dir: Path) -> float:
    """`tributary submit FILE --app cough` with no dev stack: the whole pipeline in a fresh process."""
    import subprocess

    started = time.perf_counter()
    subprocess.run(
        [str(ROOT / ".venv" / "bin" / "tributary"), "submit", str(webm), "--app", "cough"],
        env={**os.environ, **_env(data_dir)},
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - started


def warm_latency(webm: Path, wav: Path, workdir: Path, n: int, baseline_n: int) -> dict[str, Any]:
    data = webm.read_bytes()
    backend = open_backend(_settings(workdir / "warm"))
    latencies = []
    with Runner(backend, watchdog_enabled=False):
        for i in range(n + 10):
            started = time.perf_counter()
            job_id = client.submit_file(backend, data, app="cough", filename="c.webm")
            document = client.follow(backend, job_id, timeout=30)
            elapsed = time.perf_counter() - started
            assert document is not None and document["state"] == "succeeded", document
            if i >= 10:  # the first few warm the caches
                latencies.append(elapsed * 1000)
    backend.close()
    import tensorflow  # noqa: F401 - a warm baseline process has paid for this already

    cough_baseline.classify(wav)
    baseline = []
    for _ in range(baseline_n):
        started = time.perf_counter()
        cough_baseline.classify(wav)
        baseline.append((time.perf_counter() - started) * 1000)
    return {
        "ours_p50_ms": percentile(latencies, 50),
        "ours_p99_ms": percentile(latencies, 99),
        "ours_samples": len(latencies),
        "baseline_p50_ms": percentile(baseline, 50),
        "baseline_p99_ms": percentile(baseline, 99),
        "baseline_samples": len(baseline),
    }


def compute_floor(webm: Path, reps: int) -> float:
    """Per-clip compute (decode + features + inference) in one thread, in ms."""
    from apps.cough.app import CoughApp
    from schemas import BlobInput
    from tributary import cpu
    from tributary.apps import StageContext

    cpu.one_blas_thread()  # as in a worker process
    settings = _settings(Path(tempfile.mkdtemp()))
    data = webm.read_bytes()
    app = CoughApp(settings)
    ctx = StageContext(
        "floor", settings, lambda _r, _l: data, logging.LoggerAdapter(logging.getLogger("b"), {})
    )
    blob = BlobInput(bucket="b", name="uploads/u/cough/x.webm", size=len(data))
    app.lookup(app.infer(app.preprocess(blob, ctx), ctx), ctx)
    started = time.perf_counter()
    for _ in range(reps):
        app.lookup(app.infer(app.preprocess(blob, ctx), ctx), ctx)
    return (time.perf_counter() - started) / reps * 1000


def _wait_all_succeeded(backend, job_ids: list[str], timeout: float = 900) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """Wait for every job; return when the first and the last finished (perf_counter).

    The bus is first in, first out, so jobs are checked in submission order and a
    poll stops at the first one still running: a few reads per poll, not one per
    job, so the watcher takes (almost) no CPU from the workers it measures.
    """
    deadline = time.monotonic() + timeout
    remaining = list(job_ids)
    first = None
    while remaining and time.monotonic() < deadline:
        while remaining:
            document = backend.documents.get(f"jobs/{remaining[0]}")
            if not document or document.get("state") not in ("succeeded", "failed"):
                break
            assert document["state"] == "succeeded", document.get("error")
            remaining.pop(0)
            first = first or time.perf_counter()
        if remaining:
            time.sleep(0.02)
    assert not remaining, f"{len(remaining)} jobs unfinished"
    assert first is not None
    return first, time.perf_counter()


def _cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time the processes have used so far."""
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (clock ticks)
    return total / os.sysconf("SC_CLK_TCK")


def throughput(webm: Path, workdir: Path, n: int, rounds: int) -> dict[str, Any]:
    """``rounds`` batches per deployment, each drained by fresh workers: the median round.

    Two deployments on the same cores, their rounds alternating: the recommended one
    worker process per core plus one (the headline), and one per core. One round on
    this shared machine moves by a quarter from one minute to the next (other
    people's work on the same cores); the median of a few is the figure.
    """
    cores = os.cpu_count() or 1
    recommended: list[dict[str, Any]] = []
    per_core: list[dict[str, Any]] = []
    for index in range(rounds):
        recommended.append(_throughput_round(webm, workdir / f"batch-{index}", n, cores + 1))
        per_core.append(_throughput_round(webm, workdir / f"batch-{index}-per-core", n, cores))
    floor_ms = compute_floor(webm, 50)
    return {
        "clips": n,
        "rounds": rounds,
        "cores": cores,
        **_median_of(recommended, "ours"),
        **_median_of(per_core, "ours_one_per_core"),
        "compute_floor_ms_per_clip": floor_ms,
        "compute_floor_clips_per_s": cores * 1000 / floor_ms,
    }


def _median_of(runs: list[dict[str, Any]], prefix: str) -> dict[str, Any]:
    steady = sorted(run["steady_clips_per_s"] for run in runs)
    median = min(runs, key=lambda run: abs(run["steady_clips_per_s"] - steady[len(steady) // 2]))
    return {
        f"{prefix}_worker_processes": median["worker_processes"],
        f"{prefix}_clips_per_s": median["clips_per_s"],
        f"{prefix}_steady_clips_per_s": median["steady_clips_per_s"],
        f"{prefix}_steady_clips_per_s_rounds": [run["steady_clips_per_s"] for run in runs],
        f"{prefix}_worker_cpu_ms_per_clip": median["worker_cpu_ms_per_clip"],
        f"{prefix}_worker_cpu_ms_per_clip_rounds": [run["worker_cpu_ms_per_clip"] for run in runs],
    }


def _throughput_round(webm: Path, data_dir: Path, n: int, processes: int) -> dict[str, Any]:
    """A batch submitted at once, then drained by ``processes`` worker processes.

    Two rates: from starting the workers to the last result (their start-up included:
    ``tributary worker`` loads every bundled model first, seconds on a busy machine),
    and the steady rate from the first job's result to the last, with the workers'
    CPU time per clip over that same span.
    """
    import subprocess

    data = webm.read_bytes()
    backend = open_backend(_settings(data_dir))
    job_ids = [client.submit_file(backend, data, app="cough", filename="c.webm") for _ in range(n)]
    command = [str(ROOT / ".venv" / "bin" / "tributary"), "--log-level", "WARNING", "worker"]
    started = time.perf_counter()
    workers = [
        subprocess.Popen(command, env={**os.environ, **_env(data_dir)}) for _ in range(processes)
    ]
    pids = [worker.pid for worker in workers]
    try:
        _wait_all_succeeded(backend, job_ids[:1])
        cpu_from, cpu_from_at = _cpu_seconds(pids), time.time()
        _, last = _wait_all_succeeded(backend, job_ids)
        cpu_used = _cpu_seconds(pids) - cpu_from
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(timeout=60)
    # The jobs' own finish times, not when this process happened to look: on a busy
    # machine the watcher can be late to see the first result, which shortened the
    # span and flattered the rate.
    finished = sorted(_finished_at(backend, job_id) for job_id in job_ids)
    backend.close()
    after = sum(1 for at in finished if at > cpu_from_at)
    return {
        "worker_processes": processes,
        "clips_per_s": n / (last - started),
        "steady_clips_per_s": (n - 1) / (finished[-1] - finished[0]),
        "worker_cpu_ms_per_clip": cpu_used / after * 1000,
    }


def _finished_at(backend, job_id: str) -> float:  # type: ignore[no-untyped-def]
    """When the job's last stage finished (epoch seconds)."""
    document = backend.documents.get(f"jobs/{job_id}")
    return datetime.fromisoformat(document["stages"]["lookup"]["finished_at"]).timestamp()


def worker_memory(webm: Path, workdir: Path, n: int) -> float:
    data_dir = workdir / "memory"
    backend = open_backend(_settings(data_dir))
    for _ in range(n):
        client.submit_file(backend, webm.read_bytes(), app="cough", filename="c.webm")
    backend.close()
    return float(
        run_child(["bench/cough_child.py", "worker", str(n)], _env(data_dir))["peak_rss_mib"]
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (a smoke run)")
    args = parser.parse_args()
    scale = 0.2 if args.quick else 1.0
    ensure_models(_settings(ROOT / ".tributary"), lambda m: print(m, file=sys.stderr))
    cough_baseline.build_model()
    workdir = Path(tempfile.mkdtemp(prefix="bench-cough-"))
    try:
        webm, wav = _clip_files(workdir)
        print("cold start…", file=sys.stderr)
        cold = cold_start(webm, wav, workdir, reps=max(2, int(5 * scale)))
        print("throughput…", file=sys.stderr)
        batch = throughput(
            webm, workdir, n=max(50, int(500 * scale)), rounds=1 if args.quick else 3
        )
        print("worker memory…", file=sys.stderr)
        memory = worker_memory(webm, workdir, n=max(20, int(200 * scale)))
        print("warm latency…", file=sys.stderr)
        warm = warm_latency(
            webm, wav, workdir, n=max(20, int(200 * scale)), baseline_n=max(5, int(20 * scale))
        )
        baseline_clip_s = warm["baseline_p50_ms"] / 1000
        results = {
            "cold_start": cold,
            "warm_latency": warm,
            "throughput": {
                **batch,
                "baseline_clips_per_s": (os.cpu_count() or 1) / baseline_clip_s,
            },
            "worker_peak_rss_mib": {"ours": memory, "baseline": cold["baseline_peak_rss_mib"]},
            "bench_process_peak_rss_mib": peak_rss_mib(),
        }
        path = write_results("cough", results)
        print(_table(results))
        print(f"\nwrote {path.relative_to(ROOT)}", file=sys.stderr)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


def _rounds(batch: dict[str, Any], prefix: str) -> str:
    return ", ".join(f"{rate:.1f}" for rate in batch[f"{prefix}_steady_clips_per_s_rounds"])


def _table(r: dict[str, Any]) -> str:
    cold, warm, batch, mem = (
        r["cold_start"],
        r["warm_latency"],
        r["throughput"],
        r["worker_peak_rss_mib"],
    )
    rows = [
        (
            "cold start → first result",
            "≤ 1.0 s",
            f"{cold['ours_first_result_s']:.2f} s",
            f"{cold['baseline_first_result_s']:.2f} s",
        ),
        (
            "`tributary submit` (fresh process, whole pipeline)",
            "",
            f"{cold['ours_cli_submit_s']:.2f} s",
            "",
        ),
        (
            "warm end-to-end p50",
            "≤ 60 ms",
            f"{warm['ours_p50_ms']:.1f} ms",
            f"{warm['baseline_p50_ms']:.0f} ms",
        ),
        (
            "warm end-to-end p99",
            "≤ 150 ms",
            f"{warm['ours_p99_ms']:.1f} ms",
            f"{warm['baseline_p99_ms']:.0f} ms",
        ),
        (
            f"batch throughput, steady (first result → last), {batch['ours_worker_processes']}"
            f" worker processes, median of {batch['rounds']}",
            "≥ 50 clips/s",
            f"{batch['ours_steady_clips_per_s']:.1f} clips/s (rounds: {_rounds(batch, 'ours')})",
            f"{batch['baseline_clips_per_s']:.2f} clips/s",
        ),
        (
            f"the same, one worker process per core ({batch['ours_one_per_core_worker_processes']})",
            "",
            f"{batch['ours_one_per_core_steady_clips_per_s']:.1f} clips/s"
            f" (rounds: {_rounds(batch, 'ours_one_per_core')})",
            "",
        ),
        (
            "batch throughput incl. worker start-up",
            "",
            f"{batch['ours_clips_per_s']:.1f} clips/s",
            "",
        ),
        (
            "worker CPU per clip (all stages, bus included)",
            "",
            f"{batch['ours_worker_cpu_ms_per_clip']:.1f} ms",
            "",
        ),
        (
            "compute floor (decode+features+inference)",
            "",
            f"{batch['compute_floor_ms_per_clip']:.1f} ms/clip = {batch['compute_floor_clips_per_s']:.0f} clips/s",
            "",
        ),
        ("worker peak RSS", "≤ 300 MiB", f"{mem['ours']:.0f} MiB", f"{mem['baseline']:.0f} MiB"),
    ]
    lines = ["| measure | target | Tributary | original approach |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
