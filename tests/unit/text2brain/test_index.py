"""Lookup is exact: the same top-5 (ids and order) as float64 Pearson over every row."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from apps.text2brain import scoring
from apps.text2brain.corpus import MapRenderer, region_map
from apps.text2brain.index import ReferenceIndex
from apps.text2brain.mask import BrainMask
from apps.text2brain.reference import (
    MAPS_FILE,
    build_corpus_reference,
    quantize_units,
    to_stored,
    unit_rows,
)
from apps.text2brain.regions import REGION_KEYS
from tests.unit.text2brain.conftest import float64_top

# Large enough that single queries take the compiled scan (and batches ONNX Runtime).
MEDIUM_ARTICLES = 1_200


def predicted_like(mask: BrainMask, rng: np.random.Generator, noise: float) -> np.ndarray:
    """A query map: a few regions, weak stray foci, and noise."""
    keys = rng.choice(REGION_KEYS, size=int(rng.integers(1, 4)), replace=False)
    query = sum(rng.uniform(0.3, 1.0) * region_map(str(key), mask) for key in keys)
    brain = mask.coordinates
    stray = [(*brain[int(rng.integers(len(brain)))], 0.3) for _ in range(3)]
    query = query + MapRenderer(brain)(stray) + rng.normal(0.0, noise, size=mask.n_voxels)
    return np.asarray(query, dtype=np.float32)


@pytest.fixture(scope="module")
def medium_reference(tmp_path_factory: pytest.TempPathFactory, mask: BrainMask) -> Path:
    directory = tmp_path_factory.mktemp("reference") / "medium"
    build_corpus_reference(directory, mask, size=MEDIUM_ARTICLES, seed=11)
    return directory


def check_exact(directory: Path, queries: np.ndarray) -> None:
    index = ReferenceIndex(directory)
    maps = np.load(directory / MAPS_FILE)
    batched = index.search_many(queries, 5)
    for query, from_batch in zip(queries, batched, strict=True):
        expected, scores = float64_top(maps, query)
        single = index.search(query, 5)
        for result in (single, from_batch):
            assert [m.row for m in result.matches] == expected
            got = np.array([m.correlation for m in result.matches])
            np.testing.assert_allclose(got, scores[expected], rtol=0, atol=1e-12)


def test_small_corpus_lookup_equals_float64(small_reference: Path, mask: BrainMask) -> None:
    rng = np.random.default_rng(5)
    queries = np.stack([predicted_like(mask, rng, noise) for noise in (0.0, 0.01, 0.05, 0.2) * 3])
    check_exact(small_reference, queries)


def test_medium_corpus_lookup_equals_float64_on_random_queries(
    medium_reference: Path, mask: BrainMask
) -> None:
    index = ReferenceIndex(medium_reference)
    assert index.n_articles * index.n_voxels >= scoring.COMPILED_SCAN_MIN_ELEMENTS
    rng = np.random.default_rng(6)
    structured = [predicted_like(mask, rng, noise) for noise in (0.0, 0.02, 0.1) * 3]
    # Pure noise: correlations all near zero, nearly tied: the hardest case for pruning.
    noise = [rng.normal(size=mask.n_voxels).astype(np.float32) for _ in range(2)]
    check_exact(medium_reference, np.stack(structured + noise))


def test_the_error_bound_holds_for_every_row(small_reference: Path, mask: BrainMask) -> None:
    maps = np.load(small_reference / MAPS_FILE)
    rows = quantize_units(unit_rows(maps).unit)
    query = predicted_like(mask, np.random.default_rng(8), 0.05)
    unit = unit_rows(query[None, :]).unit
    code = quantize_units(unit)
    approx = (rows.codes.astype(np.int64) @ code.codes[0].astype(np.int64)) * rows.scale
    approx *= code.scale[0]
    exact = unit_rows(maps).unit @ unit[0]
    scaled = code.codes[0] * code.scale[0]
    bound = np.minimum(code.error_l2[0], code.error_max[0] * rows.unit_l1)
    bound += np.minimum(
        rows.error_l2 * np.linalg.norm(scaled), rows.error_max * np.abs(scaled).sum()
    )
    assert np.all(np.abs(exact - approx) <= bound)


@pytest.mark.parametrize("compiled", [False, True])
def test_both_scan_kernels_give_exact_integer_dots(compiled: bool) -> None:
    rng = np.random.default_rng(9)
    codes = rng.integers(-127, 128, size=(37, 1000), dtype=np.int8)
    codes[0] = 127
    codes[1] = -127
    queries = rng.integers(-127, 128, size=(3, 1000), dtype=np.int8)
    queries[0] = -127
    expected = queries.astype(np.int64) @ codes.astype(np.int64).T

    for batch in (queries[:1], queries):
        got = scoring.unit_dots(to_stored(codes), batch, compiled=compiled)
        assert np.array_equal(got, expected[: len(batch)])


def test_a_constant_query_is_refused(small_reference: Path, mask: BrainMask) -> None:
    index = ReferenceIndex(small_reference)
    with pytest.raises(ValueError, match="constant"):
        index.search(np.ones(mask.n_voxels, dtype=np.float32))
    with pytest.raises(ValueError, match="voxels"):
        index.search(np.ones(10, dtype=np.float32))


def test_k_larger_than_the_corpus_returns_every_row(tmp_path: Path, mask: BrainMask) -> None:
    build_corpus_reference(tmp_path / "tiny", mask, size=3, seed=1)
    index = ReferenceIndex(tmp_path / "tiny")
    query = region_map("insula", mask)
    result = index.search(query, k=10)
    expected, _ = float64_top(np.load(tmp_path / "tiny" / MAPS_FILE), query, k=3)
    assert [m.row for m in result.matches] == expected


def test_concurrent_searches_agree_with_sequential_ones(
    medium_reference: Path, mask: BrainMask
) -> None:
    index = ReferenceIndex(medium_reference)
    rng = np.random.default_rng(12)
    queries = [predicted_like(mask, rng, 0.02) for _ in range(6)]
    sequential = [index.search(query) for query in queries]

    with ThreadPoolExecutor(max_workers=3) as pool:
        concurrent = list(pool.map(index.search, queries))

    assert concurrent == sequential
