"""The text2brain app's three stages, end to end at the function level."""

from __future__ import annotations

import json

import numpy as np
import pytest

from apps.text2brain.app import MAP_FILE, PREVIEW_FILE, Text2BrainApp
from apps.text2brain.model import REFERENCE_DIR
from apps.text2brain.reference import MAPS_FILE
from apps.text2brain.volume import nifti_to_volume
from schemas import TextInput
from tests.unit.text2brain.conftest import Recorder, float64_top
from tributary import models
from tributary.apps import get_app
from tributary.config import Settings
from tributary.errors import PermanentError
from tributary.payloads import from_wire, to_wire

RESULT_KEYS = {"query", "articles", "map", "preview", "model"}


def run(app: Text2BrainApp, text: str, recorder: Recorder) -> tuple[dict, dict]:
    ctx = recorder.context()
    prediction = app.infer(app.preprocess(TextInput(text=text), ctx), ctx)
    return prediction, app.lookup(prediction, ctx)


def test_the_registry_serves_the_app(trained_settings: Settings) -> None:
    app = get_app("text2brain", trained_settings)
    assert isinstance(app, Text2BrainApp)
    assert app.input_kinds == frozenset({"text"})
    assert app.model_info().version == models.current_version(trained_settings, "text2brain")


def test_a_query_gives_five_articles_and_references_to_the_map(
    t2b_app: Text2BrainApp, recorder: Recorder, trained_settings: Settings
) -> None:
    prediction, result = run(t2b_app, "Fear conditioning / threat", recorder)

    assert set(result) == RESULT_KEYS
    assert result["query"] == "fear conditioning  threat"
    assert result["model"] == t2b_app.model_info().model_dump()
    articles = result["articles"]
    assert len(articles) == 5
    assert all(set(a) == {"pmid", "title", "authors", "correlation"} for a in articles)
    correlations = [a["correlation"] for a in articles]
    assert correlations == sorted(correlations, reverse=True)
    assert "amygdala" in articles[0]["title"].lower() or "fear" in articles[0]["title"].lower()
    # The result is small JSON: references, not the voxels.
    assert len(json.dumps(result)) < 2_000
    assert result["map"] == {
        "bucket": "results",
        "name": f"results/job-1/1/{MAP_FILE}",
        "generation": 7,
    }
    assert result["preview"]["name"].endswith(PREVIEW_FILE)
    nifti, nifti_type = recorder.blobs[MAP_FILE]
    volume, _ = nifti_to_volume(nifti)
    mask = t2b_app._model(result["model"]["version"]).mask
    assert np.array_equal(volume[mask.volume], prediction["map"])
    assert nifti_type == "application/gzip"
    assert recorder.blobs[PREVIEW_FILE][1] == "image/png"

    directory = models.version_dir(trained_settings, "text2brain", result["model"]["version"])
    maps = np.load(directory / REFERENCE_DIR / MAPS_FILE)
    expected, scores = float64_top(maps, prediction["map"])
    records = t2b_app._index(result["model"]["version"]).records
    assert [a["pmid"] for a in articles] == [records[i]["pmid"] for i in expected]
    np.testing.assert_allclose(correlations, scores[expected], atol=1e-12)


def test_payloads_survive_the_wire(t2b_app: Text2BrainApp, recorder: Recorder) -> None:
    ctx = recorder.context()
    features = from_wire(
        json.loads(json.dumps(to_wire(t2b_app.preprocess(TextInput(text="smell"), ctx))))
    )
    prediction = from_wire(json.loads(json.dumps(to_wire(t2b_app.infer(features, ctx)))))

    assert prediction["map"].dtype == np.float32
    assert prediction["map"].shape == (t2b_app._index(prediction["model"]["version"]).n_voxels,)
    assert t2b_app.lookup(prediction, ctx)["query"] == "smell"


def test_lookup_many_gives_what_lookup_gives(t2b_app: Text2BrainApp, recorder: Recorder) -> None:
    ctx = recorder.context()
    texts = ["working memory", "faces", "pain modulation", "reward anticipation"]
    predictions = [t2b_app.infer(t2b_app.preprocess(TextInput(text=t), ctx), ctx) for t in texts]

    batched = t2b_app.lookup_many(predictions, [ctx] * len(predictions))

    assert batched == [t2b_app.lookup(p, ctx) for p in predictions]


def test_a_map_of_the_wrong_size_is_refused(t2b_app: Text2BrainApp, recorder: Recorder) -> None:
    prediction = {
        "query": "x",
        "map": np.zeros(10, np.float32),
        "model": t2b_app.model_info().model_dump(),
    }
    with pytest.raises(PermanentError) as caught:
        t2b_app.lookup(prediction, recorder.context())
    assert caught.value.code == "invalid_input"


def test_an_unbuilt_model_is_reported(tmp_path) -> None:
    app = Text2BrainApp(Settings(data_dir=tmp_path, models_dir=tmp_path / "models"))
    with pytest.raises(models.ModelUnavailable):
        app.preprocess(TextInput(text="memory"), Recorder(app.settings).context())
