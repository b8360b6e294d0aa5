"""Training writes a complete, promotable model version."""

from __future__ import annotations

from pathlib import Path

import pytest

from apps.text2brain.model import REFERENCE_DIR
from apps.text2brain.reference import reference_info
from apps.text2brain.train import train
from schemas import ModelRef
from tributary import models
from tributary.config import Settings
from tributary.errors import ConfigError


def test_the_trained_version_is_complete_and_promoted(trained: tuple[Settings, ModelRef]) -> None:
    settings, ref = trained
    directory = models.version_dir(settings, "text2brain", ref.version)
    meta = models.read_meta(settings, "text2brain", ref.version)

    assert ref == ModelRef(name="text2brain", version="test-1")
    assert models.current_version(settings, "text2brain") == ref.version
    assert {p.name for p in directory.iterdir()} == {
        "meta.json",
        "encoder.onnx",
        "decoder.onnx",
        "tokenizer.json",
        "brain_mask_4mm.nii.gz",
        "reference",
    }
    info = reference_info(directory / REFERENCE_DIR)
    assert info is not None and info["n_articles"] == 480
    assert meta["n_voxels"] == info["n_voxels"] == 29_492
    assert meta["training"]["seed"] == 0
    assert meta["training"]["seconds"] > 0  # how long is a benchmark's question, not a test's


def test_an_existing_version_is_not_overwritten(trained: tuple[Settings, ModelRef]) -> None:
    settings, ref = trained
    with pytest.raises(ConfigError, match="already exists"):
        train(settings, version=ref.version)


def test_data_dir_must_be_a_reference_set(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", models_dir=tmp_path / "models")
    with pytest.raises(ConfigError, match="not a text2brain reference set"):
        train(settings, version="v9", data_dir=tmp_path)
    assert not models.list_versions(settings, "text2brain")
