"""Text2Brain lookup benchmark: top-5 Pearson at the original's size, ours beside its baselines.

    .venv/bin/python bench/bench_text2brain_lookup.py [--queries 20] [--batch 32]

The full reference corpus (10,574 articles × the 4 mm brain mask's voxels) is
generated once into ``.tributary/bench/text2brain-full`` and reused. Queries are
predicted-map-like: the canonical maps of one to three random regions with random
weights, a few weak foci elsewhere and some noise (seeded). Each method runs in its
own process, so its peak memory is its own:

- ``float16 dot``: the original service — unit rows in float16, in memory, one numpy
  dot per query;
- ``per-row corrcoef``: ``np.corrcoef`` of the query with each row in turn;
- ``float32 BLAS``: one float32 matrix-vector product over the memory-mapped maps
  (centred and scaled afterwards): the simple way to be fast;
- ``ours``: :class:`apps.text2brain.index.ReferenceIndex` — int8 scan, exact float64
  re-rank — per query, and batched (``search_many``) for replay.

Every method's top-5 is compared, ids and order, with a float64 computation over all
rows. Prints a markdown table and writes ``bench/results/text2brain_lookup.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from apps.text2brain.corpus import MapRenderer, region_map
from apps.text2brain.index import ReferenceIndex
from apps.text2brain.mask import load_mask
from apps.text2brain.preview import render_preview
from apps.text2brain.reference import MAPS_FILE, build_corpus_reference, reference_info, unit_rows
from apps.text2brain.regions import REGION_KEYS
from apps.text2brain.volume import map_to_nifti
from bench.common import ROOT, peak_rss_mib, run_child, write_results

CACHE = ROOT / ".tributary" / "bench" / "text2brain-full"
FLOAT16_FILE = "unit_f16.npy"
TOP = 5
_CHUNK_ROWS = 512


def ensure_reference(directory: Path) -> dict[str, Any]:
    """The full reference set (and the float16 matrix of the original), built once."""
    info = reference_info(directory)
    if info is None or info.get("corpus", {}).get("size") != "full":
        started = time.perf_counter()
        build_corpus_reference(
            directory,
            load_mask(),
            size="full",
            progress=lambda done, total: print(f"\rgenerating {done}/{total}", end="", flush=True),
        )
        print(f"\ngenerated the full corpus in {time.perf_counter() - started:.0f} s")
        info = reference_info(directory)
    if not (directory / FLOAT16_FILE).exists():
        maps = np.load(directory / MAPS_FILE, mmap_mode="r")
        half = np.lib.format.open_memmap(
            directory / f".{FLOAT16_FILE}", mode="w+", dtype=np.float16, shape=maps.shape
        )
        for start in range(0, len(maps), _CHUNK_ROWS):
            half[start : start + _CHUNK_ROWS] = unit_rows(maps[start : start + _CHUNK_ROWS]).unit
        half.flush()
        del half
        os.replace(directory / f".{FLOAT16_FILE}", directory / FLOAT16_FILE)
    assert info is not None
    return info


def make_queries(count: int, seed: int = 7) -> np.ndarray:
    """Predicted-map-like queries: a few regions' maps, weak stray foci, a little noise."""
    mask = load_mask()
    rng = np.random.default_rng(seed)
    regions = {key: region_map(key, mask) for key in REGION_KEYS}
    render = MapRenderer(mask.coordinates)
    brain = mask.coordinates
    queries = []
    for _ in range(count):
        keys = rng.choice(REGION_KEYS, size=int(rng.integers(1, 4)), replace=False)
        query = sum(rng.uniform(0.5, 1.0) * regions[str(key)] for key in keys)
        stray = [(*brain[int(rng.integers(len(brain)))], 0.2) for _ in range(int(rng.integers(4)))]
        if stray:
            query = query + render(stray)
        queries.append(query + rng.normal(0.0, 0.02, size=mask.n_voxels))
    return np.asarray(queries, dtype=np.float32)


def exact_top(directory: Path, queries: np.ndarray) -> list[list[int]]:
    """The float64 reference: every row's Pearson r with every query, top-5 by (−r, row)."""
    maps = np.load(directory / MAPS_FILE, mmap_mode="r")
    centred_queries = queries.astype(np.float64) - queries.mean(axis=1, keepdims=True)
    centred_queries /= np.linalg.norm(centred_queries, axis=1, keepdims=True)
    scores = np.empty((len(queries), len(maps)))
    for start in range(0, len(maps), _CHUNK_ROWS):
        block = np.asarray(maps[start : start + _CHUNK_ROWS], dtype=np.float64)
        block -= block.mean(axis=1, keepdims=True)
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        scores[:, start : start + len(block)] = centred_queries @ block.T
    return [_top(row) for row in scores]


def _top(scores: np.ndarray) -> list[int]:
    order = np.lexsort((np.arange(len(scores)), -scores))
    return [int(i) for i in order[:TOP]]


# --- one method per process ---------------------------------------------------------


def child(method: str, directory: Path, queries_file: Path, reps: int, batch: int) -> None:
    queries = np.load(queries_file)[:reps]
    run = {"float16": _float16, "corrcoef": _corrcoef, "blas": _blas, "ours": _ours}[method]
    started = time.perf_counter()
    report = run(directory, queries, batch)
    report["total_s"] = time.perf_counter() - started
    report["peak_rss_mib"] = peak_rss_mib()
    print(json.dumps(report))


def _timed(queries: np.ndarray, search: Any) -> dict[str, Any]:
    tops, times = [], []
    for query in queries:
        started = time.perf_counter()
        tops.append(search(query))
        times.append(time.perf_counter() - started)
    return {"tops": tops, "ms": [t * 1000 for t in times]}


def _float16(directory: Path, queries: np.ndarray, batch: int) -> dict[str, Any]:
    loaded = time.perf_counter()
    matrix = np.load(directory / FLOAT16_FILE)  # the original held the matrix in memory

    def search(query: np.ndarray) -> list[int]:
        unit = unit_rows(query[None, :]).unit[0].astype(np.float16)
        return _top(np.dot(matrix, unit).astype(np.float64))

    return {"load_s": time.perf_counter() - loaded, **_timed(queries, search)}


def _corrcoef(directory: Path, queries: np.ndarray, batch: int) -> dict[str, Any]:
    maps = np.load(directory / MAPS_FILE, mmap_mode="r")

    def search(query: np.ndarray) -> list[int]:
        return _top(np.array([np.corrcoef(row, query)[0, 1] for row in maps]))

    return {"load_s": 0.0, **_timed(queries, search)}


def _blas(directory: Path, queries: np.ndarray, batch: int) -> dict[str, Any]:
    maps = np.load(directory / MAPS_FILE, mmap_mode="r")
    with np.load(directory / "rows.npz") as rows:
        mean, norm = rows["mean"], rows["norm"]

    def search(query: np.ndarray) -> list[int]:
        unit = unit_rows(query[None, :]).unit[0]
        dots = maps @ unit.astype(np.float32)
        return _top((dots - mean * unit.sum()) / norm)

    return {"load_s": 0.0, **_timed(queries, search)}


def _ours(directory: Path, queries: np.ndarray, batch: int) -> dict[str, Any]:
    loaded = time.perf_counter()
    index = ReferenceIndex(directory)
    index.warm()
    load_s = time.perf_counter() - loaded
    rescored: list[int] = []

    def search(query: np.ndarray) -> list[int]:
        result = index.search(query, TOP)
        rescored.append(result.rescored)
        return [match.row for match in result.matches]

    single = _timed(queries, search)
    mask = load_mask()
    outputs = []
    for query in queries:
        started = time.perf_counter()
        map_to_nifti(query, mask)
        render_preview(query, mask)
        outputs.append((time.perf_counter() - started) * 1000)
    batched = np.concatenate([queries] * max(1, -(-batch // len(queries))))[:batch]
    started = time.perf_counter()
    index.search_many(batched, TOP)
    batch_s = time.perf_counter() - started
    return {
        "load_s": load_s,
        **single,
        "rescored": rescored,
        "nifti_and_preview_ms": statistics.median(outputs),
        "batch": {"size": len(batched), "seconds": batch_s},
    }


# --- the run --------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=20, help="queries for the fast methods")
    parser.add_argument("--slow-queries", type=int, default=3, help="queries for the slow ones")
    parser.add_argument("--batch", type=int, default=32, help="batch size of search_many")
    parser.add_argument("--cache", type=Path, default=CACHE)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--queries-file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.cache, args.queries_file, args.queries, args.batch)
        return

    info = ensure_reference(args.cache)
    queries = make_queries(args.queries)
    queries_file = args.cache / "queries.npy"
    np.save(queries_file, queries)
    print("computing the float64 reference top-5 …", flush=True)
    expected = exact_top(args.cache, queries)
    load_average = os.getloadavg()
    results = {}
    for method, count in (
        ("float16", args.slow_queries),
        ("corrcoef", args.slow_queries),
        ("blas", args.queries),
        ("ours", args.queries),
    ):
        print(f"running {method} …", flush=True)
        command = ["bench/bench_text2brain_lookup.py", "--child", method, "--cache"]
        command += [str(args.cache), "--queries-file", str(queries_file)]
        command += ["--queries", str(count), "--batch", str(args.batch)]
        report = run_child(command, timeout=3600)
        report["agreement"] = _agreement(report.pop("tops"), expected)
        report["median_ms"] = statistics.median(report["ms"])
        results[method] = report
    payload = {
        "reference": info,
        "queries": args.queries,
        "load_average_at_start": [round(x, 2) for x in load_average],
        "methods": results,
    }
    payload["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    path = write_results("text2brain_lookup", payload)
    print(_table(results, info, (load_average[0], payload["load_average_at_end"][0])))
    print(f"\nwrote {path.relative_to(ROOT)}")


def _agreement(tops: list[list[int]], expected: list[list[int]]) -> dict[str, Any]:
    exact = sum(top == want for top, want in zip(tops, expected, strict=False))
    as_sets = sum(set(top) == set(want) for top, want in zip(tops, expected, strict=False))
    return {"queries": len(tops), "same_ids_and_order": exact, "same_ids": as_sets}


def _table(results: dict[str, Any], info: dict[str, Any], load: tuple[float, float]) -> str:
    names = {
        "float16": "original: float16 numpy dot (in memory)",
        "corrcoef": "naive per-row np.corrcoef",
        "blas": "float32 BLAS over memory-mapped maps",
        "ours": "ours: int8 scan + exact float64 re-rank",
    }
    lines = [
        f"Reference: {info['n_articles']:,} articles × {info['n_voxels']:,} voxels. "
        f"Load average (1 min) at start / end: {load[0]:.2f} / {load[1]:.2f}, "
        f"on {os.cpu_count()} cores.\n",
        "| method | median ms/query | top-5 = float64 (ids, order) | peak RSS MiB |",
        "|---|---:|---:|---:|",
    ]
    for key, report in results.items():
        agreement = report["agreement"]
        lines.append(
            f"| {names[key]} | {report['median_ms']:.1f} | "
            f"{agreement['same_ids_and_order']}/{agreement['queries']} | "
            f"{report['peak_rss_mib']:.0f} |"
        )
    ours = results["ours"]
    batch = ours["batch"]
    lines.append(
        f"\nOurs, batched (search_many of {batch['size']}): "
        f"{batch['seconds'] * 1000 / batch['size']:.1f} ms/query, "
        f"{batch['size'] / batch['seconds']:.0f} queries/s. "
        f"Rows re-scored exactly per query: median {statistics.median(ours['rescored']):.0f}, "
        f"max {max(ours['rescored'])}. Index load + warm: {ours['load_s']:.2f} s. "
        f"Writing the NIfTI and the preview adds {ours['nifti_and_preview_ms']:.0f} ms per job."
    )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
