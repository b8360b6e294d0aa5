"""The compiled scan (numba). Imported only by :mod:`apps.text2brain.scoring`, lazily."""

from __future__ import annotations

import numba
import numpy as np

# Rows are handed to the threads in chunks of this many, on demand: a thread whose
# core is busy with something else does not hold the others back.
_CHUNK_ROWS = 64


def scan(stored: np.ndarray, queries: np.ndarray, out: np.ndarray) -> None:
    """``out[q, i] = queries[q] · stored[i]`` (int32), over all threads."""
    with numba.parallel_chunksize(_CHUNK_ROWS):
        _dots_into(stored, queries, out)


@numba.njit(parallel=True, nogil=True, cache=True, boundscheck=False)
def _dots_into(stored: np.ndarray, queries: np.ndarray, out: np.ndarray) -> None:
    n_rows, n_cols = stored.shape
    for i in numba.prange(n_rows):
        row = stored[i]
        for q in range(queries.shape[0]):
            query = queries[q]
            acc = np.int32(0)
            for j in range(n_cols):
                acc += np.int32(row[j]) * np.int32(query[j])
            out[q, i] = acc
