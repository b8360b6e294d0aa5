"""The cough app: an uploaded recording → dry / wet cough, or normal when unsure.

preprocess: read the upload, decode, validate, extract the feature vector.
infer:      class probabilities from the LiteRT model (loaded once per version).
lookup:     the label, with "normal" below the confidence threshold, in the result
            shape clients read (including the original service's type/percentage).

The features travel with the version they were computed for, so a job whose model
was promoted between two stages still runs every stage with one model version.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from apps.cough.decode import decode_audio
from apps.cough.errors import TooLarge
from apps.cough.model import APP_NAME, CoughModel
from apps.cough.spectrogram import FILE_NAME, PNG_CONTENT_TYPE, render_spectrogram
from apps.cough.validate import check_recording
from schemas import BlobInput, ModelRef, TextInput
from tributary import models
from tributary.apps import App, Payload, StageContext
from tributary.config import Settings
from tributary.errors import PermanentError

# What the original service called each outcome; old clients still read it.
LEGACY_TYPES = {"dry": "Dry Cough", "wet": "Wet Cough", "normal": "Normal Cough"}
NOT_CONFIDENT = "normal"
# The current version and the one before it: jobs already past preprocessing when a
# new version is promoted finish with the model their features were made for.
_LOADED_VERSIONS = 2


class CoughApp(App):
    name = APP_NAME
    input_kinds = frozenset({"blob"})
    # Recordings as phones and browsers label them (MediaRecorder's webm is "video/webm"
    # in some browsers; a file picker may know no type at all).
    upload_content_types = (
        "audio/",
        "video/webm",
        "video/mp4",
        "video/ogg",
        "application/octet-stream",
    )

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self._models: dict[str, CoughModel] = {}
        self._lock = threading.Lock()

    def model_info(self) -> ModelRef:
        return ModelRef(name=APP_NAME, version=models.resolve_version(self.settings, APP_NAME))

    def warm(self, version: str | None = None) -> None:
        self._model(version or models.resolve_version(self.settings, APP_NAME))

    def preprocess(self, job_input: BlobInput | TextInput, ctx: StageContext) -> Payload:
        if not isinstance(job_input, BlobInput):
            raise PermanentError(
                "the cough app needs an uploaded audio recording, not text", code="invalid_input"
            )
        limit = self.settings.max_upload_bytes
        if job_input.size is not None and job_input.size > limit:
            raise TooLarge(
                f"file is {job_input.size / 2**20:.1f} MB; the maximum is {limit / 2**20:.1f} MB"
            )
        model = self._model(ctx.model_version or models.resolve_version(self.settings, APP_NAME))
        rate = model.spec.sample_rate
        samples = decode_audio(
            ctx.read_blob(job_input.ref, limit),
            sample_rate=rate,
            max_seconds=self.settings.cough_max_seconds,
            max_bytes=limit,
        )
        duration = check_recording(
            samples,
            rate,
            min_seconds=max(self.settings.cough_min_seconds, model.extractor.min_seconds),
            max_seconds=self.settings.cough_max_seconds,
        )
        vector, power = model.extractor.analyse(samples)
        features: Payload = {
            "features": vector,
            "duration_s": round(duration, 3),
            "sample_rate": rate,
            "model": {"name": model.name, "version": model.version},
        }
        # The synchronous predict has no place for files; the pipeline's stages do.
        if ctx.write_blob is not None:
            picture = ctx.write_blob(FILE_NAME, render_spectrogram(power), PNG_CONTENT_TYPE)
            features["spectrogram"] = {
                "bucket": picture.bucket,
                "name": picture.name,
                "generation": picture.generation,
            }
        return features

    def infer(self, features: Payload, ctx: StageContext) -> Payload:
        made_with = features.get("model") or {}
        version = made_with.get("version") or models.resolve_version(self.settings, APP_NAME)
        model = self._model(version)
        vector = np.asarray(features["features"], dtype=np.float32)
        if vector.shape != (model.spec.size,):
            raise PermanentError(
                f"feature vector has shape {vector.shape}; model {version} expects ({model.spec.size},)",
                code="invalid_input",
            )
        prediction: Payload = {
            "probabilities": model.probabilities(vector),
            "model": {"name": model.name, "version": model.version},
        }
        if features.get("spectrogram"):
            prediction["spectrogram"] = features["spectrogram"]
        return prediction

    def comparable(self, result: dict[str, Any]) -> dict[str, Any]:
        return {"label": result.get("label")}

    def lookup(self, prediction: Payload, ctx: StageContext) -> dict[str, Any]:
        probabilities = {label: float(p) for label, p in prediction["probabilities"].items()}
        best, confidence = max(probabilities.items(), key=lambda item: item[1])
        threshold = self.settings.cough_threshold
        label = best if confidence >= threshold else NOT_CONFIDENT
        result: dict[str, Any] = {
            "label": label,
            "confidence": confidence,
            "probabilities": probabilities,
            "threshold": threshold,
            "model": dict(prediction["model"]),
            "type": LEGACY_TYPES[label],
            "percentage": round(confidence * 100, 2),
        }
        if prediction.get("spectrogram"):
            result["spectrogram"] = dict(prediction["spectrogram"])
        return result

    def _model(self, version: str) -> CoughModel:
        """The loaded model ``version``, loading it on first use."""
        with self._lock:
            model = self._models.get(version)
            if model is None:
                model = CoughModel.load(self.settings, version)
                self._models[version] = model
                while len(self._models) > _LOADED_VERSIONS:
                    self._models.pop(next(iter(self._models)))
            return model
