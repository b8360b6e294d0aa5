"""A built cough model, served with LiteRT: load once, predict many. Never imports TensorFlow.

A version directory holds ``model.tflite`` (the classifier), ``scaler.json`` (the
standardization fitted at training), ``features.npz`` (window, mel filterbank and
DCT basis for :mod:`apps.cough.features`) and ``meta.json`` (written last).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from ai_edge_litert.interpreter import Interpreter, OpResolverType

from apps.cough.features import FeatureAssets, FeatureExtractor, FeatureSpec
from tributary import models
from tributary.config import Settings

APP_NAME = "cough"
MODEL_FILE = "model.tflite"
SCALER_FILE = "scaler.json"
FEATURES_FILE = "features.npz"


@dataclass(frozen=True)
class Scaler:
    """Standardization of feature vectors: (x - mean) / scale."""

    mean: np.ndarray
    scale: np.ndarray

    def transform(self, features: np.ndarray) -> np.ndarray:
        return ((features - self.mean) / self.scale).astype(np.float32)

    def to_json(self) -> str:
        return json.dumps({"mean": self.mean.tolist(), "scale": self.scale.tolist()})

    @classmethod
    def fit(cls, matrix: np.ndarray) -> Scaler:
        std = matrix.std(axis=0)
        # A constant feature carries no information; leave it centred, not divided by zero.
        return cls(matrix.mean(axis=0), np.where(std > 1e-8, std, 1.0))

    @classmethod
    def load(cls, path: Path) -> Scaler:
        data = json.loads(path.read_text())
        return cls(
            np.asarray(data["mean"], dtype=np.float64), np.asarray(data["scale"], dtype=np.float64)
        )


def open_interpreter(model: bytes, num_threads: int = 1) -> Interpreter:
    """A LiteRT interpreter with the builtin kernels only: for a small MLP the default
    XNNPACK delegate only adds start-up time (and a line on stderr)."""
    return Interpreter(
        model_content=model,
        num_threads=num_threads,
        experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
    )


class CoughModel:
    """One model version, loaded: its feature extractor, scaler, labels and interpreter.

    ``predict`` is thread-safe (one interpreter per model, used under a lock).
    """

    def __init__(self, directory: Path, *, num_threads: int = 1) -> None:
        try:
            self.meta: dict[str, Any] = json.loads((directory / models.META_FILE).read_text())
            self.spec = FeatureSpec.from_dict(self.meta["features"])
            self.extractor = FeatureExtractor(
                self.spec, FeatureAssets.load(directory / FEATURES_FILE)
            )
            self.scaler = Scaler.load(directory / SCALER_FILE)
            self._interpreter = open_interpreter((directory / MODEL_FILE).read_bytes(), num_threads)
        except (OSError, KeyError, ValueError) as exc:
            raise models.ModelUnavailable(
                f"cough model in {directory} cannot be loaded: {exc}"
            ) from exc
        self.name: str = self.meta["name"]
        self.version: str = self.meta["version"]
        self.labels: list[str] = list(self.meta["labels"])
        self._input = self._interpreter.get_input_details()[0]["index"]
        self._output = self._interpreter.get_output_details()[0]["index"]
        self._batch = 0
        self._lock = threading.Lock()

    @classmethod
    def load(cls, settings: Settings, version: str) -> CoughModel:
        """Load a built version from the model root (ModelUnavailable if it is not built)."""
        directory = models.version_dir(settings, APP_NAME, version)
        if not (directory / models.META_FILE).is_file():
            raise models.ModelUnavailable(
                f"cough model {version} is not built (nothing in {directory})"
            )
        return cls(directory)

    def predict(self, features: np.ndarray) -> np.ndarray:
        """Class probabilities (in ``labels`` order) for one feature vector."""
        return self.predict_batch(np.asarray(features).reshape(1, -1))[0]

    def predict_batch(self, matrix: np.ndarray) -> np.ndarray:
        """Class probabilities for each row of a (n, features) matrix: (n, labels)."""
        if matrix.ndim != 2 or matrix.shape[1] != self.spec.size:
            raise ValueError(f"expected (n, {self.spec.size}) features, got {matrix.shape}")
        scaled = self.scaler.transform(matrix)
        with self._lock:
            if self._batch != len(scaled):
                self._interpreter.resize_tensor_input(self._input, list(scaled.shape))
                self._interpreter.allocate_tensors()
                self._batch = len(scaled)
            self._interpreter.set_tensor(self._input, scaled)
            self._interpreter.invoke()
            return np.array(self._interpreter.get_tensor(self._output), dtype=np.float64)

    def probabilities(self, features: np.ndarray) -> dict[str, float]:
        """``predict`` as a {label: probability} dict."""
        return {
            label: float(p) for label, p in zip(self.labels, self.predict(features), strict=True)
        }
