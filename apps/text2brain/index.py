"""Exact top-k Pearson correlation against the reference maps, at memory speed.

A search scans the int8 unit rows (:mod:`apps.text2brain.reference`) with an int8
code of the query, which gives every row an approximate correlation ``a`` and a
guaranteed bound ``b`` on its error, from the two quantization errors (row ``r`` and
query ``q`` unit vectors, ``~`` their int8 approximations):

    |r·q - a| <= |r·(q - q~)| + |(r - r~)·q~|   each term bounded by Cauchy–Schwarz or Hölder

The best ``CANDIDATES`` rows by ``a`` are then re-scored exactly, in float64, from
the float32 maps; so is any other row whose ``a + b`` reaches the k-th exact score.
Every row left out provably scores below the k-th, so the top-k is the same as a
float64 computation over the whole matrix (ties broken by row order). The int8 rows
are memory-mapped and shared; rows re-scored exactly are read with ``pread`` and not
kept (nor mapped), so memory stays at the int8 matrix plus a few MB.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from apps.text2brain import scoring
from apps.text2brain.reference import (
    ARTICLES_FILE,
    MAPS_FILE,
    REFERENCE_FORMAT,
    ROWS_FILE,
    UNIT_FILE,
    quantize_units,
    reference_info,
    unit_rows,
)

CANDIDATES = 64
# Rounding in the float64 arithmetic of a and b, far above its actual size.
_SLACK = 1e-9


@dataclass(frozen=True)
class Match:
    """One reference row and its exact Pearson correlation with the query."""

    row: int
    correlation: float


@dataclass(frozen=True)
class SearchResult:
    """The top matches, best first, and how many rows were re-scored exactly."""

    matches: list[Match]
    rescored: int


class ReferenceIndex:
    """A reference set opened for search: load once per process, search many times."""

    def __init__(self, directory: Path) -> None:
        info = reference_info(directory)
        if info is None:
            raise FileNotFoundError(f"no reference set (format {REFERENCE_FORMAT}) in {directory}")
        self.directory = directory
        self.n_articles: int = info["n_articles"]
        self.n_voxels: int = info["n_voxels"]
        self.records: list[dict[str, Any]] = json.loads((directory / ARTICLES_FILE).read_text())
        self._codes = np.load(directory / UNIT_FILE, mmap_mode="r")
        with np.load(directory / ROWS_FILE) as stats:
            self._rows = {name: np.asarray(stats[name], dtype=np.float64) for name in stats.files}
        self._maps_path = directory / MAPS_FILE
        self._maps_offset = _npy_data_offset(self._maps_path)
        expected = (self.n_articles, self.n_voxels)
        if self._codes.shape != expected or len(self.records) != self.n_articles:
            raise ValueError(f"reference in {directory} is inconsistent with its description")

    def warm(self) -> None:
        """Page the int8 rows in and load the scan kernel, so the first search is not slow."""
        step = 1 << 24
        flat = self._codes.reshape(-1)
        for start in range(0, flat.size, step):
            int(flat[start : start + step][::4096].sum())  # one read per page
        scoring.prepare(compiled=False)
        if self._codes.size >= scoring.COMPILED_SCAN_MIN_ELEMENTS:
            scoring.prepare(compiled=True)

    def search(self, vector: np.ndarray, k: int = 5) -> SearchResult:
        """The ``k`` rows whose maps correlate best with ``vector`` (exact, best first)."""
        return self.search_many(np.asarray(vector)[None, :], k)[0]

    def search_many(self, vectors: np.ndarray, k: int = 5) -> list[SearchResult]:
        """:meth:`search` for each row of ``vectors``, scanning the reference once."""
        vectors = np.asarray(vectors)
        if vectors.ndim != 2 or vectors.shape[1] != self.n_voxels:
            raise ValueError(f"expected maps of {self.n_voxels} voxels, got shape {vectors.shape}")
        k = min(k, self.n_articles)
        units = unit_rows(vectors).unit
        query = quantize_units(units)
        dots = scoring.unit_dots(self._codes, query.codes)
        codes = query.codes.astype(np.float64)
        code_l2 = np.sqrt(np.einsum("ij,ij->i", codes, codes)) * query.scale
        code_l1 = np.abs(query.codes).sum(axis=1, dtype=np.float64) * query.scale
        rows = self._rows
        results = []
        for q, unit in enumerate(units):
            approx = dots[q] * (rows["scale"] * query.scale[q])
            # |r·q - a| <= |r·dq| + |dr·q~|, each bounded by Cauchy–Schwarz or Hölder.
            bound = np.minimum(query.error_l2[q], query.error_max[q] * rows["unit_l1"])
            bound += np.minimum(rows["error_l2"] * code_l2[q], rows["error_max"] * code_l1[q])
            results.append(self._rerank(unit, approx, bound + _SLACK, k))
        return results

    def _rerank(
        self, unit: np.ndarray, approx: np.ndarray, bound: np.ndarray, k: int
    ) -> SearchResult:
        """Exact scores for the likely rows, then for every row that could still beat them."""
        count = min(max(CANDIDATES, k), self.n_articles)
        rows = np.argpartition(-approx, count - 1)[:count]
        exact = dict(zip(rows.tolist(), self._exact(rows, unit).tolist(), strict=True))
        while True:
            ranked = sorted(exact.items(), key=lambda item: (-item[1], item[0]))[:k]
            threshold = ranked[-1][1]
            could_beat = np.flatnonzero(approx + bound >= threshold)
            missing = np.array([row for row in could_beat.tolist() if row not in exact])
            if missing.size == 0:
                break
            exact.update(zip(missing.tolist(), self._exact(missing, unit).tolist(), strict=True))
        matches = [Match(row=row, correlation=score) for row, score in ranked]
        return SearchResult(matches=matches, rescored=len(exact))

    def _exact(self, rows: np.ndarray, unit: np.ndarray) -> np.ndarray:
        """Pearson's r of the given rows' float32 maps with a unit query, in float64."""
        width = self.n_voxels * 4
        maps = np.empty((len(rows), self.n_voxels), dtype=np.float32)
        # Opened per call: an index can be dropped while another thread searches it.
        descriptor = os.open(self._maps_path, os.O_RDONLY)
        try:
            for i, row in enumerate(rows.tolist()):
                read = os.preadv(descriptor, [maps[i]], self._maps_offset + row * width)
                if read != width:
                    raise OSError(f"{self._maps_path} is truncated at row {row}")
        finally:
            os.close(descriptor)
        # r = (x − mean)·u / norm = (x·u − mean Σu) / norm, with the row's float64 mean
        # and norm from build time. einsum, not BLAS: BLAS threads are slow to wake, and
        # left spinning they slow the next scan down by half.
        dots = np.einsum("ij,j->i", maps, unit, dtype=np.float64)
        mean, norm = self._rows["mean"][rows], self._rows["norm"][rows]
        scores: np.ndarray = (dots - mean * unit.sum()) / norm
        return scores


def _npy_data_offset(path: Path) -> int:
    """Where the array data of a .npy file starts."""
    with open(path, "rb") as stream:
        version = np.lib.format.read_magic(stream)
        if version == (1, 0):
            np.lib.format.read_array_header_1_0(stream)
        elif version == (2, 0):
            np.lib.format.read_array_header_2_0(stream)
        else:
            raise ValueError(f"{path}: unsupported .npy format version {version}")
        return stream.tell()
