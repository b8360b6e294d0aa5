"""Write a reference set — article records and their maps — for the lookup stage.

A reference directory holds:

- ``articles.json``: one record per row (pmid, title, authors, regions);
- ``maps.npy``: the maps as generated, float32 (articles × voxels) — the exact copy
  that correlations are finally computed from;
- ``unit_u8.npy``: every map centred and scaled to unit norm (so that Pearson's r is
  a dot product), quantized to int8 with one scale per row and stored as uint8 with
  zero point 128 — what is scanned;
- ``rows.npz``: per row, the mean and norm of the map (float64) and the int8 scale
  and size of the quantization error, which bound how far a scanned score can be
  from the exact one;
- ``reference.json``: shapes and provenance, written last (a directory without it is
  incomplete and never read).

Everything is written chunk by chunk, so a full-size set (≈1.25 GB of float32 maps)
never has to fit in memory.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from apps.text2brain.corpus import Article, corpus_size, iter_map_chunks, make_articles
from apps.text2brain.mask import BrainMask

ARTICLES_FILE = "articles.json"
MAPS_FILE = "maps.npy"
UNIT_FILE = "unit_u8.npy"
ROWS_FILE = "rows.npz"
REFERENCE_FILE = "reference.json"
# Bumped whenever the files' layout changes; readers refuse other formats.
REFERENCE_FORMAT = 1
# int8 codes span -127..127, so every product fits int16 and a row sum int32.
QUANT_LEVELS = 127
# Rows are stored as uint8 = code + 128, the layout of ONNX Runtime's int8 GEMM.
ZERO_POINT = 128


@dataclass(frozen=True)
class QuantizedRows:
    """Unit rows as int8 codes, and what bounds the error of a dot product with them."""

    codes: np.ndarray  # int8 (rows, voxels); code × scale ≈ the centred, unit-norm row
    scale: np.ndarray  # float64 (rows,)
    error_l2: np.ndarray  # ‖unit − code × scale‖₂
    error_max: np.ndarray  # ‖unit − code × scale‖∞ (at most scale / 2)
    unit_l1: np.ndarray  # ‖unit‖₁


@dataclass(frozen=True)
class UnitRows:
    """Rows centred and scaled to unit norm (float64), with the mean and norm removed."""

    unit: np.ndarray
    mean: np.ndarray
    norm: np.ndarray


ROW_STATS = ("mean", "norm", "scale", "error_l2", "error_max", "unit_l1")


def unit_rows(maps: np.ndarray) -> UnitRows:
    """Each row centred and scaled to unit norm, in float64: Pearson's r becomes a dot product.

    Rows are processed one at a time, so a row's result never depends on the rows
    batched with it. Raises ValueError on a constant (or non-finite) row, whose
    correlation is undefined.
    """
    rows = np.asarray(maps)
    unit = np.empty(rows.shape, dtype=np.float64)
    mean = np.empty(len(rows))
    norm = np.empty(len(rows))
    for i, row in enumerate(rows):
        centred = unit[i]
        centred[:] = row
        mean[i] = centred.mean()
        centred -= mean[i]
        # einsum, not BLAS: BLAS threads left spinning would slow the scan that follows.
        norm[i] = np.sqrt(np.einsum("i,i->", centred, centred))
        if not (np.isfinite(norm[i]) and norm[i] > 0.0):
            raise ValueError("a map is constant or not finite: its correlation is undefined")
        centred /= norm[i]
    return UnitRows(unit=unit, mean=mean, norm=norm)


def quantize_units(unit: np.ndarray) -> QuantizedRows:
    """Quantize unit rows to int8 with one scale per row (the largest value → ±127)."""
    scale = np.abs(unit).max(axis=1) / QUANT_LEVELS
    codes = np.rint(unit / scale[:, None])
    error = np.abs(unit - codes * scale[:, None])
    return QuantizedRows(
        codes=codes.astype(np.int8),
        scale=scale,
        error_l2=np.sqrt(np.einsum("ij,ij->i", error, error)),
        error_max=error.max(axis=1),
        unit_l1=np.abs(unit).sum(axis=1),
    )


def to_stored(codes: np.ndarray) -> np.ndarray:
    """int8 codes → their stored uint8 form (code + 128)."""
    flipped: np.ndarray = np.asarray(codes, dtype=np.int8).view(np.uint8) ^ np.uint8(0x80)
    return flipped


def write_reference(
    directory: Path,
    records: Sequence[dict[str, Any]],
    chunks: Iterable[np.ndarray],
    *,
    provenance: dict[str, Any] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Write a reference set from row records and their maps, given in row chunks.

    ``progress(rows_done, rows_total)`` is called after every chunk. The directory is
    replaced atomically: it is complete or absent.
    """
    staging = directory.with_name(f".{directory.name}.building")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    total = len(records)
    done = 0
    stats: dict[str, list[np.ndarray]] = {name: [] for name in ROW_STATS}
    n_voxels = None
    with open(staging / MAPS_FILE, "wb") as maps_out, open(staging / UNIT_FILE, "wb") as unit_out:
        for chunk in chunks:
            if n_voxels is None:
                n_voxels = chunk.shape[1]
                _write_npy_header(maps_out, np.float32, (total, n_voxels))
                _write_npy_header(unit_out, np.uint8, (total, n_voxels))
            chunk = np.ascontiguousarray(chunk, dtype=np.float32)
            units = unit_rows(chunk)
            quantized = quantize_units(units.unit)
            maps_out.write(chunk.tobytes())
            unit_out.write(to_stored(quantized.codes).tobytes())
            for name in ROW_STATS:
                source = units if name in ("mean", "norm") else quantized
                stats[name].append(getattr(source, name))
            done += len(chunk)
            if progress is not None:
                progress(done, total)
    if done != total or n_voxels is None:
        raise ValueError(f"got maps for {done} rows but {total} records")
    arrays: dict[str, Any] = {name: np.concatenate(parts) for name, parts in stats.items()}
    np.savez(staging / ROWS_FILE, **arrays)
    (staging / ARTICLES_FILE).write_text(json.dumps(list(records)))
    info = {
        "format": REFERENCE_FORMAT,
        "n_articles": total,
        "n_voxels": n_voxels,
        **(provenance or {}),
    }
    (staging / REFERENCE_FILE).write_text(json.dumps(info, indent=2, sort_keys=True))
    shutil.rmtree(directory, ignore_errors=True)
    os.replace(staging, directory)
    return directory


def build_corpus_reference(
    directory: Path,
    mask: BrainMask,
    *,
    size: str | int = "small",
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> list[Article]:
    """Generate the seeded corpus of ``size`` and write it as a reference set."""
    articles = make_articles(corpus_size(size), seed, mask)
    write_reference(
        directory,
        [article.record() for article in articles],
        iter_map_chunks(articles, mask),
        provenance={"corpus": {"size": size, "seed": seed}},
        progress=progress,
    )
    return articles


def reference_info(directory: Path) -> dict[str, Any] | None:
    """The description of a complete reference set in this format, or None if there is none."""
    try:
        info: dict[str, Any] = json.loads((directory / REFERENCE_FILE).read_text())
    except FileNotFoundError:
        return None
    return info if info.get("format") == REFERENCE_FORMAT else None


def _write_npy_header(stream: BinaryIO, dtype: type, shape: tuple[int, int]) -> None:
    """Start a .npy file whose data will be appended row chunk by row chunk."""
    header = {
        "descr": np.lib.format.dtype_to_descr(np.dtype(dtype)),
        "fortran_order": False,
        "shape": shape,
    }
    np.lib.format.write_array_header_1_0(stream, header)
