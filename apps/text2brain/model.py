"""A built Text2Brain model, served with ONNX Runtime: load once, predict many.

A version directory holds ``encoder.onnx`` (MiniLM with mean pooling and L2
normalization: token ids → a 384-d unit vector), ``decoder.onnx`` (unit vector →
40×48×40 volume), ``tokenizer.json``, the brain mask it was trained with,
``reference/`` (the lookup corpus, :mod:`apps.text2brain.reference`) and
``meta.json`` (written last). Never imports torch or transformers.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
from onnxruntime.capi import onnxruntime_pybind11_state as ort_errors

from apps.text2brain.mask import BrainMask, load_mask
from apps.text2brain.query import QueryTokenizer
from apps.text2brain.runtime import open_session
from tributary import models
from tributary.config import Settings

APP_NAME = "text2brain"
ENCODER_FILE = "encoder.onnx"
DECODER_FILE = "decoder.onnx"
TOKENIZER_FILE = "tokenizer.json"
MASK_FILE = "brain_mask_4mm.nii.gz"
REFERENCE_DIR = "reference"
_LOAD_ERRORS = (
    OSError,
    KeyError,
    ValueError,
    ort_errors.Fail,
    ort_errors.NoSuchFile,
    ort_errors.InvalidProtobuf,
    ort_errors.InvalidGraph,
)


class Text2BrainModel:
    """One model version: tokenizer and brain mask at once, ONNX sessions on first use.

    A preprocessing worker needs only the tokenizer, so the encoder and decoder are
    loaded by :meth:`load_networks` (or the first :meth:`embed` / :meth:`decode`).
    Thread-safe: ONNX Runtime sessions may run concurrently.
    """

    def __init__(self, directory: Path, meta: dict[str, Any] | None = None) -> None:
        """Load the version in ``directory``; ``meta`` stands in for a meta.json not yet written."""
        try:
            if meta is None:
                meta = json.loads((directory / models.META_FILE).read_text())
            self.meta: dict[str, Any] = meta
            self.tokenizer = QueryTokenizer(directory / TOKENIZER_FILE)
            self.mask: BrainMask = load_mask(directory / MASK_FILE)
        except _LOAD_ERRORS as exc:
            raise models.ModelUnavailable(
                f"text2brain model in {directory} cannot be loaded: {exc}"
            ) from exc
        self.directory = directory
        self.name: str = self.meta["name"]
        self.version: str = self.meta["version"]
        self._sessions: tuple[ort.InferenceSession, ort.InferenceSession] | None = None
        self._lock = threading.Lock()

    def load_networks(self) -> tuple[ort.InferenceSession, ort.InferenceSession]:
        """The encoder and decoder sessions, created on the first call."""
        with self._lock:
            if self._sessions is None:
                try:
                    self._sessions = (
                        open_session(self.directory / ENCODER_FILE),
                        open_session(self.directory / DECODER_FILE),
                    )
                except _LOAD_ERRORS as exc:
                    raise models.ModelUnavailable(
                        f"text2brain networks in {self.directory} cannot be loaded: {exc}"
                    ) from exc
            return self._sessions

    @classmethod
    def load(cls, settings: Settings, version: str) -> Text2BrainModel:
        """Load a built version from the model root (ModelUnavailable if it is not built)."""
        directory = models.version_dir(settings, APP_NAME, version)
        if not (directory / models.META_FILE).is_file():
            raise models.ModelUnavailable(
                f"text2brain model {version} is not built (nothing in {directory})"
            )
        return cls(directory)

    @property
    def reference_dir(self) -> Path:
        return self.directory / REFERENCE_DIR

    def embed(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        """Unit-norm sentence embeddings, (batch, 384) float32."""
        feeds = {
            "input_ids": np.asarray(input_ids, dtype=np.int64),
            "attention_mask": np.asarray(attention_mask, dtype=np.int64),
        }
        embedding: np.ndarray = self.load_networks()[0].run(None, feeds)[0]
        return embedding

    def decode(self, embeddings: np.ndarray) -> np.ndarray:
        """Predicted maps on the brain mask, (batch, n_voxels) float32."""
        volumes = self.load_networks()[1].run(None, {"embedding": embeddings.astype(np.float32)})[0]
        flat = volumes.reshape(len(volumes), -1)
        maps: np.ndarray = flat[:, self.mask.indices]
        return maps

    def predict(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        """The predicted map of one tokenized query, (n_voxels,) float32."""
        return self.decode(self.embed(input_ids, attention_mask))[0]

    def predict_texts(self, texts: list[str], batch: int = 64) -> np.ndarray:
        """Predicted maps of several normalized queries, (len(texts), n_voxels) float32."""
        maps = []
        for start in range(0, len(texts), batch):
            tokens = self.tokenizer.encode_batch(texts[start : start + batch])
            maps.append(self.decode(self.embed(tokens["input_ids"], tokens["attention_mask"])))
        return np.concatenate(maps) if maps else np.empty((0, self.mask.n_voxels), np.float32)
