"""The embedded blob store keeps every object inside its own folder, and across restarts."""

from __future__ import annotations

import os
from pathlib import Path

from tests.contract.support import ODD_NAMES
from tributary.backend import open_backend
from tributary.config import Settings


def _files_under(root: Path) -> set[Path]:
    return {Path(folder, name) for folder, _dirs, names in os.walk(root) for name in names}


def _naive_targets(settings: Settings, name: str) -> set[Path]:
    """Where a store that joined object names onto a folder would have written."""
    blob_root = settings.data_dir / "blobs"
    bases = [blob_root / settings.bucket, blob_root, settings.data_dir, Path.cwd()]
    targets = {Path(os.path.normpath(base / name.lstrip("/"))) for base in bases}
    targets |= {Path(os.path.normpath(base / name)) for base in bases}
    return {target for target in targets if target.name}


def _contents(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:  # absent, a folder, or a name too long to ever exist
        return None


def _state(paths: set[Path]) -> dict[Path, bytes | None]:
    return {path: _contents(path) for path in paths}


def test_odd_names_never_put_a_file_outside_the_blob_folder(
    settings: Settings, tmp_path: Path
) -> None:
    targets = set().union(*(_naive_targets(settings, name) for name in ODD_NAMES))
    targets_before = _state(targets)
    files_before = _files_under(tmp_path)
    backend = open_backend(settings)
    try:
        written = {name: f"bytes of {name!r}".encode() for name in ODD_NAMES}
        for name, data in written.items():
            backend.blobs.put(name, data)
        read_back = {name: backend.blobs.get(name) for name in ODD_NAMES}
    finally:
        backend.close()

    assert read_back == written
    assert _state(targets) == targets_before, "a file appeared where an object name pointed"
    blob_folder = settings.data_dir / "blobs"
    new_files = _files_under(tmp_path) - files_before
    database = {settings.data_dir / f"tributary.db{suffix}" for suffix in ("", "-wal", "-shm")}
    outside = {path for path in new_files - database if blob_folder not in path.parents}
    assert not outside, f"files written outside {blob_folder}: {sorted(outside)}"
    blob_files = {path for path in new_files if blob_folder in path.parents}
    assert sorted(path.read_bytes() for path in blob_files) == sorted(written.values())


def test_objects_and_generations_survive_reopening_the_backend(settings: Settings) -> None:
    first = open_backend(settings)
    old = first.blobs.put("models/echo.bin", b"v1", content_type="application/octet-stream")
    new = first.blobs.put("models/echo.bin", b"v2")
    first.close()

    second = open_backend(settings)
    try:
        stat = second.blobs.stat("models/echo.bin")
        assert stat is not None and stat.generation == new.generation
        assert second.blobs.get("models/echo.bin") == b"v2"
        assert second.blobs.get("models/echo.bin", old.generation) == b"v1"
        assert [i.generation for i in second.blobs.list("models/")] == [new.generation]
    finally:
        second.close()
