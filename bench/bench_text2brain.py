"""Text2Brain end to end on the embedded backend: uncached, cached, and cold start.

    .venv/bin/python bench/bench_text2brain.py [--queries 50]

Uncached: distinct queries submitted one at a time (submit → job succeeded);
cached: one query asked again and again; cold start: a fresh process → first
result through the three stages. Writes bench/results/text2brain.json.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import ROOT, percentile, run_child, write_results
from tributary import client
from tributary.backend import open_backend
from tributary.config import load_settings
from tributary.devstack import ensure_models
from tributary.runner import Runner

MODELS = ROOT / ".tributary" / "models"
TOPICS = ("fear", "memory", "faces", "language production", "motor", "vision", "reward", "pain")


def _latencies(backend, queries: list[str]) -> list[float]:  # type: ignore[no-untyped-def]
    out = []
    for query in queries:
        started = time.perf_counter()
        document = client.follow(
            backend, client.submit_text(backend, query, app="text2brain"), timeout=60
        )
        assert document is not None and document["state"] == "succeeded", document
        out.append((time.perf_counter() - started) * 1000)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=50)
    args = parser.parse_args()
    settings = load_settings({}, data_dir=Path(tempfile.mkdtemp()), models_dir=MODELS)
    ensure_models(settings, lambda m: print(m, file=sys.stderr), apps=("text2brain",))
    env = {"TRIBUTARY_MODELS_DIR": str(MODELS)}
    cold = [run_child(["bench/text2brain_child.py", "fear and anxiety"], env) for _ in range(3)]
    assert not any(c["heavy_imports"] for c in cold), cold
    backend = open_backend(settings)
    with Runner(backend, watchdog_enabled=False):
        _latencies(backend, [f"warm up {i}" for i in range(3)])
        uncached = _latencies(
            backend, [f"{TOPICS[i % len(TOPICS)]} study {i}" for i in range(args.queries)]
        )
        _latencies(backend, ["the amygdala and fear"])
        cached = _latencies(backend, ["the amygdala and fear"] * args.queries)
    backend.close()
    results: dict[str, Any] = {
        "cold_start_s": statistics.median(c["wall_s"] for c in cold),
        "cold_peak_rss_mib": max(c["peak_rss_mib"] for c in cold),
        "uncached_ms": {
            "p50": percentile(uncached, 50),
            "p99": percentile(uncached, 99),
            "n": len(uncached),
        },
        "cached_ms": {
            "p50": percentile(cached, 50),
            "p99": percentile(cached, 99),
            "n": len(cached),
        },
    }
    write_results("text2brain", results)
    print("| measure | target | Tributary |\n|---|---|---|")
    print(f"| cold start → first result | ≤ 2 s | {results['cold_start_s']:.2f} s |")
    print(
        f"| uncached p50 / p99 | ≤ 100 ms | {results['uncached_ms']['p50']:.1f} / {results['uncached_ms']['p99']:.1f} ms |"
    )
    print(
        f"| cached p50 / p99 | ≤ 10 ms | {results['cached_ms']['p50']:.1f} / {results['cached_ms']['p99']:.1f} ms |"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
