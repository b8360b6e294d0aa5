"""Text2Brain end to end on the embedded backend: a query document → a brain map and articles."""

from __future__ import annotations

import gzip
from collections.abc import Iterator

import nibabel as nib
import pytest

from tests.helpers import wait_terminal
from tributary import client
from tributary.backend import Backend, open_backend
from tributary.config import Settings
from tributary.runner import Runner


@pytest.fixture(scope="module")
def pipeline(
    text2brain_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Backend]:
    settings = text2brain_settings.with_overrides(data_dir=tmp_path_factory.mktemp("t2b-pipeline"))
    backend = open_backend(settings)
    with Runner(backend):
        yield backend
    backend.close()


def test_a_query_becomes_a_map_a_preview_and_five_articles(pipeline: Backend) -> None:
    job_id = client.submit_text(pipeline, "  Fear and the AMYGDALA / threat  ", app="text2brain")
    doc = wait_terminal(pipeline, job_id, timeout=120)
    assert doc["state"] == "succeeded", doc.get("error")
    result = doc["result"]
    assert result["query"] == "fear and the amygdala  threat"
    articles = result["articles"]
    assert len(articles) == 5
    correlations = [a["correlation"] for a in articles]
    assert correlations == sorted(correlations, reverse=True)
    assert all({"pmid", "title", "authors", "correlation"} <= set(a) for a in articles)
    assert doc["model"]["name"] == "text2brain"
    # The document holds references; the map and its picture are in the blob store.
    nifti = pipeline.blobs.get(result["map"]["name"], result["map"]["generation"])
    image = nib.Nifti1Image.from_bytes(gzip.decompress(nifti))
    assert image.shape == (40, 48, 40)
    preview = pipeline.blobs.get(result["preview"]["name"], result["preview"]["generation"])
    assert preview[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    ("text", "code"),
    [("   ", "empty_query"), ("///", "empty_query"), ("x" * 141, "query_too_long")],
)
def test_bad_queries_fail_with_their_code(pipeline: Backend, text: str, code: str) -> None:
    job_id = client.submit_text(pipeline, text, app="text2brain")
    doc = wait_terminal(pipeline, job_id, timeout=60)
    assert doc["state"] == "failed" and doc["error"]["code"] == code


def _cache_count(backend: Backend, query: str) -> int:
    from apps.text2brain.app import Text2BrainApp
    from schemas import TextInput
    from tributary import cache

    app = Text2BrainApp(backend.settings)
    key = app.cache_key(TextInput(text=query))
    assert key is not None
    entry = backend.documents.get(cache.cache_path("text2brain", app.model_info().version, key))
    return int(entry["count"]) if entry else 0


def test_a_repeated_query_is_answered_from_the_cache_and_counted(pipeline: Backend) -> None:
    first = wait_terminal(
        pipeline, client.submit_text(pipeline, "Visual cortex", app="text2brain"), timeout=120
    )
    assert first["result"]["cache"] == {"hit": False, "asked": 1}
    # The same query once normalized: no stage runs, the count goes up.
    again = wait_terminal(
        pipeline, client.submit_text(pipeline, "  visual CORTEX/ ", app="text2brain"), timeout=60
    )
    assert again["state"] == "succeeded" and again["stages"] == {}
    assert again["result"]["cache"] == {"hit": True, "asked": 2}
    assert again["result"]["articles"] == first["result"]["articles"]
    assert again["model"] == first["model"]
    assert _cache_count(pipeline, "visual cortex") == 2


def test_concurrent_identical_queries_raise_the_count_by_exactly_their_number(
    pipeline: Backend,
) -> None:
    query = "hippocampus and memory"
    before = _cache_count(pipeline, query)
    job_ids = [client.submit_text(pipeline, query, app="text2brain") for _ in range(8)]
    docs = [wait_terminal(pipeline, job_id, timeout=180) for job_id in job_ids]
    assert all(doc["state"] == "succeeded" for doc in docs)
    assert _cache_count(pipeline, query) == before + 8
    assert sorted(doc["result"]["cache"]["asked"] for doc in docs) == list(
        range(before + 1, before + 9)
    )
