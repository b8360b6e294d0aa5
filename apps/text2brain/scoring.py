"""Exact integer dot products of int8 query codes with every quantized reference row.

This scan is the only part of a lookup that touches the whole reference matrix, so it
has to run at memory speed. Rows are stored as uint8 with zero point 128 (the layout
ONNX Runtime's int8 GEMM wants). Two kernels, both exact in int32, so which one runs
never changes a result:

- ONNX Runtime's ``MatMulInteger`` (``assets/int8_scan.onnx``) for small matrices and
  for batches: its GEMM packs the rows once per call, which costs about as much as a
  single-query scan but then serves a whole batch (≈1.7 ms per query in batches of
  32 at full size);
- a compiled two-thread loop (numba, :mod:`apps.text2brain.scan_kernel`) for one
  query against a large matrix: it streams the rows once at close to memory
  bandwidth, ≈1.6× faster than ``MatMulInteger`` for a single query. It is imported
  only then: importing and loading it costs about a second.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import onnxruntime as ort

from apps.text2brain.reference import ZERO_POINT
from apps.text2brain.runtime import open_session

SCAN_FILE = Path(__file__).resolve().parent / "assets" / "int8_scan.onnx"

# At or above this many matrix elements a single query goes to the compiled loop.
COMPILED_SCAN_MIN_ELEMENTS = 1 << 25
# The largest row length for which 128 * 127 * length fits in an int32 accumulator.
MAX_VOXELS = (2**31 - 1) // (128 * 127)

_session: ort.InferenceSession | None = None
_session_lock = threading.Lock()
# One compiled scan at a time: it already uses every core, and numba's fallback
# threading layer must not be entered from two threads at once.
_scan_lock = threading.Lock()


def unit_dots(
    stored: np.ndarray, queries: np.ndarray, *, compiled: bool | None = None
) -> np.ndarray:
    """Exact ``queries @ (stored − 128).T``: stored rows (n, v) uint8, queries (m, v) int8 → (m, n) int64.

    ``compiled`` forces a kernel; by default one query against a large matrix uses
    the compiled loop and everything else ONNX Runtime.
    """
    if stored.dtype != np.uint8 or queries.dtype != np.int8:
        raise TypeError("unit_dots takes uint8 rows and int8 queries")
    if queries.ndim != 2 or stored.ndim != 2 or queries.shape[1] != stored.shape[1]:
        raise ValueError(f"shapes {queries.shape} and {stored.shape} do not match")
    if stored.shape[1] > MAX_VOXELS:
        raise ValueError(f"rows longer than {MAX_VOXELS} could overflow the int32 accumulator")
    if compiled is None:
        compiled = len(queries) == 1 and stored.size >= COMPILED_SCAN_MIN_ELEMENTS
    if compiled:
        return _compiled_dots(stored, queries)
    return _onnx_dots(stored, queries)


def prepare(compiled: bool) -> None:
    """Load a kernel now (session; numba import and cache) rather than on the first scan."""
    rows, query = np.full((2, 64), ZERO_POINT, np.uint8), np.zeros((1, 64), np.int8)
    unit_dots(rows, query, compiled=compiled)


def _onnx_dots(stored: np.ndarray, queries: np.ndarray) -> np.ndarray:
    global _session
    with _session_lock:
        if _session is None:
            _session = open_session(SCAN_FILE)
    # A plain ndarray view of a memory map: ONNX Runtime reads it in place.
    feeds = {"codes": np.asarray(stored), "queries": np.ascontiguousarray(queries.T)}
    dots: np.ndarray = _session.run(None, feeds)[0]
    return dots.T.astype(np.int64)


def _compiled_dots(stored: np.ndarray, queries: np.ndarray) -> np.ndarray:
    from apps.text2brain.scan_kernel import scan

    out = np.empty((len(queries), len(stored)), dtype=np.int32)
    with _scan_lock:
        scan(np.asarray(stored), np.ascontiguousarray(queries), out)
    # Σ (s − 128)·q = Σ s·q − 128 Σ q
    offsets = ZERO_POINT * queries.sum(axis=1, dtype=np.int64)
    return out.astype(np.int64) - offsets[:, None]
