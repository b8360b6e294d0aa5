"""Build a cough model version: data → features → Keras MLP → TFLite, then promote it.

TensorFlow is imported inside :func:`_fit_tflite` only, so nothing that serves ever
pays for it. Features come from the same numpy code as serving. Training is
deterministic: the same seed and data give a byte-identical ``model.tflite``.

Data: synthetic clips (:mod:`apps.cough.synth`) by default. With ``data_dir``, the
labelled recordings listed in its ``labels.csv`` are used *instead* (see
:mod:`apps.cough.dataset`), and the held-out accuracy is measured on them.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from apps.cough.dataset import Dataset, recordings_dataset, stratified_split, synthetic_dataset
from apps.cough.features import (
    FeatureAssets,
    FeatureExtractor,
    FeatureSpec,
    build_assets,
    feature_names,
)
from apps.cough.model import (
    APP_NAME,
    FEATURES_FILE,
    MODEL_FILE,
    SCALER_FILE,
    Scaler,
    open_interpreter,
)
from schemas import ModelRef
from tributary import models
from tributary.config import Settings
from tributary.errors import ConfigError

LABELS = ("dry", "wet")


@dataclass(frozen=True)
class TrainingConfig:
    """Size of the synthetic data set and of the network; defaults build the bundled model."""

    n_clips: int = 1200
    epochs: int = 50
    batch_size: int = 64
    hidden: tuple[int, ...] = (32, 16)
    learning_rate: float = 2e-3
    label_smoothing: float = 0.1
    test_fraction: float = 0.2


def train(
    settings: Settings,
    *,
    version: str,
    data_dir: Path | None = None,
    seed: int = 0,
    promote: bool = True,
    progress: Callable[[str], None] | None = None,
    config: TrainingConfig | None = None,
) -> ModelRef:
    """Train, convert and write model version ``version``; promote it unless told not to.

    Raises ConfigError if the version already exists or the data cannot be used.
    """
    say = progress or (lambda _message: None)
    config = config or TrainingConfig()
    target = models.version_dir(settings, APP_NAME, version)
    if (target / models.META_FILE).exists():
        raise ConfigError(
            f"model {APP_NAME}/{version} already exists in {target}; pick a new version"
        )
    started = time.perf_counter()

    spec = FeatureSpec()
    assets = build_assets(spec)
    extractor = FeatureExtractor(spec, assets)
    if data_dir is not None:
        data = recordings_dataset(Path(data_dir), extractor, settings, LABELS, progress=say)
    else:
        data = synthetic_dataset(extractor, config.n_clips, seed, progress=say)
    train_idx, test_idx = stratified_split(data.labels, config.test_fraction, seed)
    scaler = Scaler.fit(data.features[train_idx].astype(np.float64))

    say(f"training on {len(train_idx)} clips ({config.epochs} epochs)")
    tflite = _fit_tflite(
        scaler.transform(data.features[train_idx]), data.labels[train_idx], seed, config
    )
    probabilities = run_tflite(tflite, scaler.transform(data.features[test_idx]))
    accuracy = float(np.mean(probabilities.argmax(axis=1) == data.labels[test_idx]))
    say(f"held-out accuracy {accuracy:.3f} on {len(test_idx)} clips")

    elapsed = time.perf_counter() - started
    meta = _meta(version, seed, spec, config, data, train_idx, test_idx, accuracy, elapsed)
    _write_version(target, tflite, scaler, assets, meta)
    if promote:
        models.promote(settings, APP_NAME, version)
    done = "written and promoted" if promote else "written"
    say(f"{APP_NAME}/{version} {done} in {elapsed:.1f} s: {target}")
    return ModelRef(name=APP_NAME, version=version)


def _write_version(
    target: Path, tflite: bytes, scaler: Scaler, assets: FeatureAssets, meta: dict[str, object]
) -> None:
    """Write every file in a staging directory, move it into place, then meta.json last."""
    staging = target.with_name(f".{target.name}.building")
    for leftover in (staging, target):  # from a build that died before meta.json
        shutil.rmtree(leftover, ignore_errors=True)
    staging.mkdir(parents=True)
    (staging / MODEL_FILE).write_bytes(tflite)
    (staging / SCALER_FILE).write_text(scaler.to_json())
    assets.save(staging / FEATURES_FILE)
    os.replace(staging, target)
    models.write_meta(target, meta)


def run_tflite(model: bytes, matrix: np.ndarray) -> np.ndarray:
    """Probabilities from a TFLite model for already-scaled rows, with LiteRT (as served)."""
    interpreter = open_interpreter(model)
    index = interpreter.get_input_details()[0]["index"]
    interpreter.resize_tensor_input(index, list(matrix.shape))
    interpreter.allocate_tensors()
    interpreter.set_tensor(index, matrix.astype(np.float32))
    interpreter.invoke()
    return np.array(interpreter.get_tensor(interpreter.get_output_details()[0]["index"]))


def _fit_tflite(x: np.ndarray, y: np.ndarray, seed: int, config: TrainingConfig) -> bytes:
    """Fit the MLP with fixed seeds and deterministic ops; return the TFLite flatbuffer."""
    # Keep TensorFlow's C++ start-up chatter out of the command's output.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import tensorflow as tf

    with contextlib.suppress(RuntimeError):  # fails once TF has started; harmless then
        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    tf.config.experimental.enable_op_determinism()
    keras.utils.set_random_seed(seed)

    layers: list[keras.layers.Layer] = [keras.Input((x.shape[1],))]
    layers += [keras.layers.Dense(width, activation="relu") for width in config.hidden]
    layers.append(keras.layers.Dense(len(LABELS), activation="softmax"))
    network = keras.Sequential(layers)
    # Label smoothing keeps the outputs calibrated: a probability of exactly 1.0 would
    # claim a certainty no recording supports (and defeat a threshold of 1.0).
    network.compile(
        optimizer=keras.optimizers.Adam(config.learning_rate),
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=config.label_smoothing),
    )
    targets = np.eye(len(LABELS), dtype=np.float32)[y]
    network.fit(
        x, targets, epochs=config.epochs, batch_size=config.batch_size, shuffle=True, verbose=0
    )
    # The converter prints where it saved its intermediate artifact; not useful here.
    with contextlib.redirect_stdout(io.StringIO()):
        tflite: bytes = tf.lite.TFLiteConverter.from_keras_model(network).convert()
    keras.backend.clear_session()
    return tflite


def _meta(
    version: str,
    seed: int,
    spec: FeatureSpec,
    config: TrainingConfig,
    data: Dataset,
    train_idx: np.ndarray,
    test_idx: np.ndarray,
    accuracy: float,
    elapsed: float,
) -> dict[str, object]:
    return {
        "name": APP_NAME,
        "version": version,
        "labels": list(LABELS),
        "sample_rate": spec.sample_rate,
        "features": spec.to_dict(),
        "feature_names": feature_names(spec),
        "files": {"model": MODEL_FILE, "scaler": SCALER_FILE, "features": FEATURES_FILE},
        "training": {
            "seed": seed,
            "data": data.source,
            "config": asdict(config),
            "train_clips": len(train_idx),
            "held_out_clips": len(test_idx),
            "skipped": data.skipped,
            "seconds": round(elapsed, 1),
        },
        "metrics": {"held_out_accuracy": accuracy},
    }
