"""Training: a deterministic, accurate model, written as a complete, promotable version."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from apps.cough.dataset import TrainingDataError
from apps.cough.decode import decode_audio
from apps.cough.model import CoughModel
from apps.cough.synth import KINDS, synth_clip
from apps.cough.train import TrainingConfig, train
from schemas import ModelRef
from tests import audiofiles
from tributary import models
from tributary.config import Settings
from tributary.errors import ConfigError

SMALL = TrainingConfig(n_clips=80, epochs=4)


def _settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", models_dir=tmp_path / "models")


def test_the_trained_version_is_complete_and_promoted(trained: tuple[Settings, ModelRef]) -> None:
    settings, ref = trained
    directory = models.version_dir(settings, "cough", ref.version)
    meta = models.read_meta(settings, "cough", ref.version)

    assert ref.name == "cough"
    assert meta["version"] == ref.version
    assert models.current_version(settings, "cough") == ref.version
    assert {p.name for p in directory.iterdir()} == {
        "meta.json",
        "model.tflite",
        "scaler.json",
        "features.npz",
    }
    assert meta["labels"] == ["dry", "wet"]
    assert meta["sample_rate"] == 16000
    assert meta["training"]["seed"] == 0
    assert len(meta["feature_names"]) == meta["features"]["n_mfcc"] * 3 + 13
    assert meta["metrics"]["held_out_accuracy"] >= 0.9


def test_the_model_separates_new_dry_and_wet_coughs(trained: tuple[Settings, ModelRef]) -> None:
    settings, ref = trained
    model = CoughModel.load(settings, ref.version)
    # Seeds the training set never used, and a lossy round trip for half of them.
    correct = []
    for seed in range(40):
        kind = KINDS[seed % 2]
        clip = synth_clip(kind, 10_000 + seed)
        if seed % 4 < 2:
            clip = decode_audio(audiofiles.encode(clip, 16000, "webm_opus"), max_seconds=30)
        probabilities = model.probabilities(model.extractor.extract(clip))
        correct.append(max(probabilities, key=probabilities.__getitem__) == kind)

    assert np.mean(correct) >= 0.9


def test_the_same_seed_trains_the_same_model(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    for version in ("a", "b"):
        train(settings, version=version, seed=1, promote=False, config=SMALL)
    train(settings, version="other-seed", seed=2, promote=False, config=SMALL)

    def model_bytes(version: str) -> bytes:
        return (models.version_dir(settings, "cough", version) / "model.tflite").read_bytes()

    assert model_bytes("a") == model_bytes("b")
    assert model_bytes("a") != model_bytes("other-seed")
    probe = CoughModel.load(settings, "a").extractor.extract(synth_clip("wet", 99))
    np.testing.assert_array_equal(
        CoughModel.load(settings, "a").predict(probe), CoughModel.load(settings, "b").predict(probe)
    )
    assert models.current_version(settings, "cough") is None  # promote=False


def test_an_existing_version_is_never_overwritten(trained: tuple[Settings, ModelRef]) -> None:
    settings, ref = trained
    with pytest.raises(ConfigError, match="already exists"):
        train(settings, version=ref.version, config=SMALL)


def _write_recordings(root: Path, rows: list[tuple[str, str]], files: dict[str, bytes]) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (root / name).write_bytes(data)
    lines = ["file,label", *(f"{name},{label}" for name, label in rows)]
    (root / "labels.csv").write_text("\n".join(lines) + "\n")


def test_recordings_in_a_directory_are_used_and_bad_rows_reported(tmp_path: Path) -> None:
    recordings = tmp_path / "recordings"
    files: dict[str, bytes] = {}
    rows: list[tuple[str, str]] = []
    formats = ["wav", "webm_opus", "mp3", "m4a_aac_no_faststart"]
    for i in range(16):
        kind = KINDS[i % 2]
        name = f"{kind}-{i}.{formats[i % 4].split('_')[0]}"
        files[name] = audiofiles.encode(synth_clip(kind, 500 + i), 16000, formats[i % 4])
        rows.append((name, kind))
    files["broken.wav"] = audiofiles.truncated_wav()
    files["quiet.wav"] = audiofiles.silence()
    rows += [
        ("broken.wav", "dry"),
        ("quiet.wav", "wet"),
        ("dry-0.wav", "croupy"),
        ("missing.wav", "dry"),
        ("../outside.wav", "wet"),
    ]
    _write_recordings(recordings, rows, files)
    settings = _settings(tmp_path)
    messages: list[str] = []

    train(
        settings,
        version="real",
        data_dir=recordings,
        config=SMALL,
        progress=messages.append,
        promote=False,
    )

    meta = json.loads((models.version_dir(settings, "cough", "real") / "meta.json").read_text())
    assert meta["training"]["data"] == f"recordings:{recordings}"
    assert meta["training"]["train_clips"] + meta["training"]["held_out_clips"] == 16
    skipped = "\n".join(meta["training"]["skipped"])
    assert "'broken.wav'" in skipped and "truncated" in skipped
    assert "'quiet.wav'" in skipped and "silent" in skipped
    assert "unknown label 'croupy'" in skipped
    assert "'missing.wav'" in skipped and "not found" in skipped
    assert "'../outside.wav'" in skipped and "inside the training directory" in skipped
    assert any(m.startswith("skipped labels.csv line") for m in messages)


def test_a_directory_without_labels_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(TrainingDataError, match=r"labels\.csv not found"):
        train(_settings(tmp_path), version="x", data_dir=tmp_path, config=SMALL)


def test_training_fails_when_no_recording_is_usable(tmp_path: Path) -> None:
    recordings = tmp_path / "recordings"
    _write_recordings(
        recordings, [("a.bin", "dry"), ("b.bin", "wet")], {"a.bin": b"x", "b.bin": b""}
    )

    with pytest.raises(TrainingDataError, match="not enough usable recordings"):
        train(_settings(tmp_path), version="x", data_dir=recordings, config=SMALL)
    assert models.list_versions(_settings(tmp_path), "cough") == []


def test_a_csv_without_the_expected_columns_is_refused(tmp_path: Path) -> None:
    (tmp_path / "labels.csv").write_text("path,class\na.wav,dry\n")

    with pytest.raises(TrainingDataError, match="columns file,label"):
        train(_settings(tmp_path), version="x", data_dir=tmp_path, config=SMALL)
