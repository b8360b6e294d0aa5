"""Training data for the cough model: synthetic clips, or a directory of labelled recordings.

A recordings directory holds ``labels.csv`` with a header row and the columns
``file,label``: ``file`` is a path relative to the directory (any format
:mod:`apps.cough.decode` reads), ``label`` is ``dry`` or ``wet``. Rows that cannot
be used (unknown label, missing or undecodable file, too short, silent...) are
reported and skipped; loading fails only if too little usable data remains.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from apps.cough.decode import decode_audio
from apps.cough.errors import TooLarge
from apps.cough.features import FeatureExtractor
from apps.cough.synth import synth_item
from apps.cough.validate import check_recording
from tributary.config import Settings
from tributary.errors import ConfigError, PermanentError

LABELS_FILE = "labels.csv"


class TrainingDataError(ConfigError):
    """The training data asked for cannot be used."""


@dataclass
class Dataset:
    """Clips as feature vectors with integer labels (indexes into the label list)."""

    features: np.ndarray  # (n, feature size), float32
    labels: np.ndarray  # (n,), int64
    source: str
    skipped: list[str] = field(default_factory=list)


def synthetic_dataset(
    extractor: FeatureExtractor, n_clips: int, seed: int, *, progress: Callable[[str], None]
) -> Dataset:
    """``n_clips`` synthetic clips, half dry and half wet, as features."""
    progress(f"synthesizing {n_clips} clips (seed {seed}) and extracting features")
    rows = [_synthetic_row(extractor, i, seed) for i in range(n_clips)]
    matrix = np.stack([vector for vector, _ in rows]).astype(np.float32)
    labels = np.array([label for _, label in rows], dtype=np.int64)
    return Dataset(matrix, labels, source=f"synthetic:{n_clips}:{seed}")


def _synthetic_row(extractor: FeatureExtractor, index: int, seed: int) -> tuple[np.ndarray, int]:
    clip, label = synth_item(index, seed, sample_rate=extractor.spec.sample_rate)
    return extractor.extract(clip), label


def recordings_dataset(
    data_dir: Path,
    extractor: FeatureExtractor,
    settings: Settings,
    labels: Sequence[str],
    *,
    progress: Callable[[str], None],
) -> Dataset:
    """The recordings listed in ``data_dir/labels.csv``, as features."""
    rows = _read_rows(data_dir, labels)
    root = data_dir.resolve()
    vectors: list[np.ndarray] = []
    targets: list[int] = []
    skipped: list[str] = []
    progress(f"reading {len(rows)} recordings listed in {data_dir / LABELS_FILE}")
    for line, name, label in rows:
        where = f"{LABELS_FILE} line {line} ({name!r})"
        if label not in labels:
            skipped.append(f"{where}: unknown label {label!r}; expected one of {', '.join(labels)}")
            continue
        try:
            samples = _load_recording(root, name, extractor, settings)
        except (PermanentError, TrainingDataError, OSError) as exc:
            skipped.append(f"{where}: {getattr(exc, 'message', None) or exc}")
            continue
        vectors.append(extractor.extract(samples))
        targets.append(labels.index(label))
    for problem in skipped:
        progress(f"skipped {problem}")
    counts = {label: targets.count(i) for i, label in enumerate(labels)}
    scarce = [label for label, count in counts.items() if count < 2]
    if scarce:
        raise TrainingDataError(
            f"not enough usable recordings in {data_dir}: {counts} "
            f"(need at least 2 of each label; {len(skipped)} rows skipped)"
        )
    matrix = np.stack(vectors).astype(np.float32)
    return Dataset(
        matrix, np.array(targets, dtype=np.int64), source=f"recordings:{data_dir}", skipped=skipped
    )


def stratified_split(
    labels: np.ndarray, test_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Train and held-out indexes, with each label split in the same proportion."""
    rng = np.random.default_rng(seed)
    train, test = [], []
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        n_test = max(1, round(len(members) * test_fraction))
        test.append(members[:n_test])
        train.append(members[n_test:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


def _read_rows(data_dir: Path, labels: Sequence[str]) -> list[tuple[int, str, str]]:
    path = data_dir / LABELS_FILE
    if not path.is_file():
        raise TrainingDataError(
            f"{path} not found: a training directory needs a {LABELS_FILE} with columns "
            f"file,label (label one of {', '.join(labels)})"
        )
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        columns = {c.strip() for c in reader.fieldnames or []}
        if not {"file", "label"} <= columns:
            raise TrainingDataError(
                f"{path} must have a header row with columns file,label; found {sorted(columns)}"
            )
        rows = [
            (
                reader.line_num,
                (row.get("file") or "").strip(),
                (row.get("label") or "").strip().lower(),
            )
            for row in reader
        ]
    if not rows:
        raise TrainingDataError(f"{path} lists no recordings")
    return rows


def _load_recording(
    root: Path, name: str, extractor: FeatureExtractor, settings: Settings
) -> np.ndarray:
    path = (root / name).resolve()
    if not name or not path.is_relative_to(root):
        raise TrainingDataError("the file must be a path inside the training directory")
    if not path.is_file():
        raise TrainingDataError("file not found")
    if path.stat().st_size > settings.max_upload_bytes:
        raise TooLarge(f"file is larger than the {settings.max_upload_bytes} byte upload limit")
    data = path.read_bytes()
    samples = decode_audio(
        data,
        sample_rate=extractor.spec.sample_rate,
        max_seconds=settings.cough_max_seconds,
        max_bytes=settings.max_upload_bytes,
    )
    check_recording(
        samples,
        extractor.spec.sample_rate,
        min_seconds=max(settings.cough_min_seconds, extractor.min_seconds),
        max_seconds=settings.cough_max_seconds,
    )
    return samples
