"""The model registry: the active version is a document, promotions reach running workers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tributary import models
from tributary.backend import Backend, open_backend
from tributary.config import Settings
from tributary.registry import ModelRegistry, NothingToRollBack, registry_path


def _build(settings: Settings, app: str, version: str, weights: bytes = b"w") -> Path:
    directory = models.version_dir(settings, app, version)
    (directory / "sub").mkdir(parents=True)
    (directory / "weights.bin").write_bytes(weights)
    (directory / "sub" / "vocab.txt").write_text("a b c")
    models.write_meta(directory, {"version": version})
    return directory


def test_a_fresh_registry_serves_what_training_promoted(backend: Backend) -> None:
    _build(backend.settings, "echo", "v1")
    models.promote(backend.settings, "echo", "v1")
    assert ModelRegistry(backend).active("echo") == "v1"
    assert ModelRegistry(backend).active("cough") is None


def test_promote_and_rollback_keep_a_history(backend: Backend) -> None:
    for version in ("v1", "v2", "v10"):
        _build(backend.settings, "echo", version)
    models.promote(backend.settings, "echo", "v1")
    registry = ModelRegistry(backend)
    assert registry.promote("echo", "v2") == "v1"
    assert registry.promote("echo", "v10") == "v2"
    assert registry.active("echo") == "v10"
    assert registry.order("echo") == ["v1", "v2", "v10"]  # natural order
    assert registry.rollback("echo") == "v2"
    assert registry.active("echo") == "v2"
    assert [h["action"] for h in registry.history("echo")] == [
        "promote",
        "promote",
        "promote",
        "rollback",
    ]
    # The local pointer follows, for tools that read the model directory only.
    assert models.current_version(backend.settings, "echo") == "v2"


def test_rollback_without_an_earlier_version_is_a_clear_error(backend: Backend) -> None:
    _build(backend.settings, "echo", "v1")
    registry = ModelRegistry(backend)
    registry.promote("echo", "v1")
    with pytest.raises(NothingToRollBack) as caught:
        registry.rollback("echo")
    assert caught.value.code == "no_previous_version"


def test_another_process_sees_a_promotion_within_the_refresh_time(settings: Settings) -> None:
    fast = settings.with_overrides(model_refresh_s=0.0)
    _build(fast, "echo", "v1")
    _build(fast, "echo", "v2")
    writer, reader = open_backend(fast), open_backend(fast)
    try:
        ModelRegistry(writer).promote("echo", "v1")
        watching = ModelRegistry(reader)
        assert watching.active("echo") == "v1"
        ModelRegistry(writer).promote("echo", "v2")
        assert watching.active("echo") == "v2"
    finally:
        writer.close()
        reader.close()


def test_a_cached_version_is_trusted_for_model_refresh_s(settings: Settings) -> None:
    slow = settings.with_overrides(model_refresh_s=3600.0)
    _build(slow, "echo", "v1")
    _build(slow, "echo", "v2")
    backend = open_backend(slow)
    try:
        ModelRegistry(backend).promote("echo", "v1")
        cached = ModelRegistry(backend)
        assert cached.active("echo") == "v1"
        backend.documents.merge(registry_path("echo"), {"active": "v2"})
        assert cached.active("echo") == "v1"
    finally:
        backend.close()


def test_an_added_version_reaches_a_worker_without_the_files(
    settings: Settings, tmp_path: Path
) -> None:
    builder = settings.with_overrides(models_dir=tmp_path / "builder-models")
    source = _build(builder, "echo", "v7", weights=b"\x00\x01weights")
    publisher = open_backend(builder)
    try:
        info = ModelRegistry(publisher).add("echo", source, "v7")
        assert info.published and not info.active
    finally:
        publisher.close()
    # A worker with an empty model directory, on the same backend (bucket and documents).
    worker_settings = settings.with_overrides(models_dir=tmp_path / "worker-models")
    worker = open_backend(worker_settings)
    try:
        registry = ModelRegistry(worker)
        assert [v.version for v in registry.versions("echo")] == ["v7"]
        directory = registry.ensure_local("echo", "v7")
        assert (directory / "weights.bin").read_bytes() == b"\x00\x01weights"
        assert (directory / "sub" / "vocab.txt").read_text() == "a b c"
        assert json.loads((directory / models.META_FILE).read_text()) == {"version": "v7"}
        assert registry.ensure_local("echo", "v7") == directory  # already here: no copy

        registry.promote("echo", "v7")
        assert registry.active("echo") == "v7"
    finally:
        worker.close()


def test_an_unknown_version_is_model_unavailable(backend: Backend) -> None:
    registry = ModelRegistry(backend)
    assert registry.fetch_if_published("echo", "v9") is None
    with pytest.raises(models.ModelUnavailable):
        registry.promote("echo", "v9")


def test_a_version_added_under_a_new_name_reports_that_name(backend: Backend) -> None:
    source = _build(backend.settings, "echo", "v1")
    ModelRegistry(backend).add("echo", source, "v2")
    meta = models.read_meta(backend.settings, "echo", "v2")
    assert (meta["version"], meta["built_as"]) == ("v2", "v1")
    assert models.read_meta(backend.settings, "echo", "v1") == {"version": "v1"}
