"""The cough app's three stages, end to end at the function level."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from apps.cough.app import LEGACY_TYPES, CoughApp
from apps.cough.synth import Kind, synth_clip
from schemas import BlobInput, BlobRef, ModelRef, TextInput
from tests import audiofiles
from tributary import models
from tributary.apps import StageContext, get_app
from tributary.config import Settings
from tributary.errors import PermanentError

Contexts = Callable[[Settings, bytes], StageContext]
Blobs = Callable[[bytes], BlobInput]

RESULT_KEYS = {
    "label",
    "confidence",
    "probabilities",
    "threshold",
    "model",
    "type",
    "percentage",
}


def run(app: CoughApp, data: bytes, context_for: Contexts, blob_for: Blobs) -> dict[str, Any]:
    ctx = context_for(app.settings, data)
    features = app.preprocess(blob_for(data), ctx)
    return app.lookup(app.infer(features, ctx), ctx)


@pytest.mark.parametrize("kind", ["dry", "wet"])
def test_browser_recordings_are_classified(
    cough_app: CoughApp, context_for: Contexts, blob_for: Blobs, kind: Kind
) -> None:
    labels = []
    for seed in range(300, 306):
        data = audiofiles.encode(synth_clip(kind, seed, seconds=3.0), 16000, "webm_opus")

        result = run(cough_app, data, context_for, blob_for)

        assert set(result) == RESULT_KEYS
        assert set(result["probabilities"]) == {"dry", "wet"}
        assert sum(result["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
        assert result["confidence"] == max(result["probabilities"].values())
        assert result["percentage"] == round(result["confidence"] * 100, 2)
        assert result["threshold"] == 0.8
        assert result["type"] == LEGACY_TYPES[result["label"]]
        assert result["model"] == cough_app.model_info().model_dump()
        labels.append(result["label"])

    # Never the other kind; "normal" (not confident) at most once.
    assert set(labels) <= {kind, "normal"}
    assert labels.count(kind) >= 5, labels


def test_the_preprocess_payload(
    cough_app: CoughApp, context_for: Contexts, blob_for: Blobs
) -> None:
    data = audiofiles.encode(synth_clip("dry", 5, seconds=2.0), 16000, "m4a_aac_no_faststart")

    payload = cough_app.preprocess(blob_for(data), context_for(cough_app.settings, data))

    assert set(payload) == {"features", "duration_s", "sample_rate", "model"}
    assert payload["features"].dtype == np.float32
    assert payload["features"].shape == (73,)
    assert payload["duration_s"] == pytest.approx(2.0, abs=0.05)
    assert payload["sample_rate"] == 16000
    assert payload["model"] == cough_app.model_info().model_dump()


def test_below_the_threshold_the_answer_is_normal(
    trained_settings: Settings, context_for: Contexts, blob_for: Blobs
) -> None:
    strict = CoughApp(trained_settings.with_overrides(cough_threshold=1.0))
    data = audiofiles.encode(synth_clip("wet", 8, seconds=3.0), 16000, "webm_opus")

    result = run(strict, data, context_for, blob_for)

    assert result["label"] == "normal"
    assert result["type"] == "Normal Cough"
    assert result["threshold"] == 1.0
    assert result["confidence"] < 1.0


@pytest.mark.parametrize(
    ("probabilities", "label", "legacy_type", "percentage"),
    [
        ({"dry": 0.7, "wet": 0.3}, "normal", "Normal Cough", 70.0),
        ({"dry": 0.1234567, "wet": 0.8765433}, "wet", "Wet Cough", 87.65),
        ({"dry": 0.8, "wet": 0.2}, "dry", "Dry Cough", 80.0),  # the threshold itself is enough
    ],
)
def test_lookup_applies_the_threshold(
    cough_app: CoughApp,
    context_for: Contexts,
    probabilities: dict[str, float],
    label: str,
    legacy_type: str,
    percentage: float,
) -> None:
    prediction = {"probabilities": probabilities, "model": {"name": "cough", "version": "v"}}

    result = cough_app.lookup(prediction, context_for(cough_app.settings, b""))

    assert (result["label"], result["type"], result["percentage"]) == (
        label,
        legacy_type,
        percentage,
    )
    assert result["model"] == {"name": "cough", "version": "v"}


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("random_bytes", "unsupported_media"),
        ("video_without_audio", "no_audio_stream"),
        ("silence", "silent_audio"),
        ("short_clip", "too_short"),
        ("ten_minute_stream", "too_long"),
        ("empty", "empty_input"),
    ],
)
def test_bad_uploads_fail_preprocessing_with_their_code(
    cough_app: CoughApp, context_for: Contexts, blob_for: Blobs, name: str, code: str
) -> None:
    data = audiofiles.BAD_INPUTS[name]()

    with pytest.raises(PermanentError) as caught:
        cough_app.preprocess(blob_for(data), context_for(cough_app.settings, data))

    assert caught.value.code == code


def test_an_upload_over_the_limit_is_refused_before_it_is_read(
    cough_app: CoughApp, context_for: Contexts
) -> None:
    def never_read(ref: BlobRef, limit: int) -> bytes:
        raise AssertionError("the blob must not be read")

    ctx = StageContext(
        job_id="j",
        settings=cough_app.settings,
        read_blob=never_read,
        log=context_for(cough_app.settings, b"").log,
    )
    big = BlobInput(bucket="uploads", name="big.wav", size=50 * 1024 * 1024)

    with pytest.raises(PermanentError) as caught:
        cough_app.preprocess(big, ctx)

    assert caught.value.code == "too_large"
    assert "the maximum is 10.0 MB" in caught.value.message


def test_text_input_is_refused(cough_app: CoughApp, context_for: Contexts) -> None:
    with pytest.raises(PermanentError) as caught:
        cough_app.preprocess(TextInput(text="cough"), context_for(cough_app.settings, b""))

    assert caught.value.code == "invalid_input"


def test_features_are_inferred_with_the_version_that_made_them(
    trained: tuple[Settings, ModelRef], context_for: Contexts, blob_for: Blobs
) -> None:
    settings, ref = trained
    app = CoughApp(settings)
    data = audiofiles.encode(synth_clip("dry", 12, seconds=2.0), 16000, "wav")
    ctx = context_for(settings, data)
    features = app.preprocess(blob_for(data), ctx)
    # A new version is promoted while the job is between stages.
    newer = models.version_dir(settings, "cough", "test-2")
    shutil.copytree(models.version_dir(settings, "cough", ref.version), newer)
    models.write_meta(
        newer, {**models.read_meta(settings, "cough", ref.version), "version": "test-2"}
    )
    models.promote(settings, "cough", "test-2")
    try:
        assert app.infer(features, ctx)["model"]["version"] == ref.version
        assert app.model_info() == ModelRef(name="cough", version="test-2")
        fresh = app.preprocess(blob_for(data), ctx)
        assert app.infer(fresh, ctx)["model"]["version"] == "test-2"
    finally:
        models.promote(settings, "cough", ref.version)
        shutil.rmtree(newer)


def test_without_a_built_model_the_app_says_so(
    tmp_path: Path, context_for: Contexts, blob_for: Blobs
) -> None:
    app = CoughApp(Settings(data_dir=tmp_path))
    data = audiofiles.encode(synth_clip("dry", 1), 16000, "wav")

    for attempt in (
        app.model_info,
        app.warm,
        lambda: app.preprocess(blob_for(data), context_for(app.settings, data)),
    ):
        with pytest.raises(models.ModelUnavailable) as caught:
            attempt()
        assert caught.value.code == "model_unavailable"


def test_the_registry_serves_this_app(trained_settings: Settings) -> None:
    app = get_app("cough", trained_settings)

    assert isinstance(app, CoughApp)
    assert app.input_kinds == frozenset({"blob"})
