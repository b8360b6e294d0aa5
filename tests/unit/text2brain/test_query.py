"""Queries are normalized as the original service did, and bad ones fail with a clear code."""

from __future__ import annotations

import numpy as np
import pytest

from apps.text2brain.app import Text2BrainApp
from apps.text2brain.query import MAX_QUERY_CHARS, EmptyQuery, QueryTooLong, normalize_query
from schemas import BlobInput, TextInput
from tests.unit.text2brain.conftest import Recorder
from tributary.errors import ERROR_CODES, PermanentError


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Fear", "fear"),
        ("  Working Memory \n", "working memory"),
        ("reward/punishment", "rewardpunishment"),
        ("Amygdala / FEAR", "amygdala  fear"),
        ("Broca's area", "broca's area"),
    ],
)
def test_queries_are_lower_cased_stripped_and_slashes_removed(text: str, expected: str) -> None:
    assert normalize_query(text) == expected


@pytest.mark.parametrize("text", ["", "   ", "\n\t", "/", " // ", "/ /"])
def test_an_empty_query_is_refused(text: str) -> None:
    with pytest.raises(EmptyQuery) as caught:
        normalize_query(text)
    assert caught.value.code == "empty_query"
    assert caught.value.code in ERROR_CODES


def test_a_query_over_140_characters_is_refused_with_the_limit_in_the_message() -> None:
    with pytest.raises(QueryTooLong) as caught:
        normalize_query("a" * (MAX_QUERY_CHARS + 1))
    assert caught.value.code == "query_too_long"
    assert caught.value.code in ERROR_CODES
    assert "141" in caught.value.message and "140" in caught.value.message


def test_the_limit_applies_after_normalization() -> None:
    assert len(normalize_query("x" * MAX_QUERY_CHARS)) == MAX_QUERY_CHARS
    # Slashes and surrounding space do not count: they are removed first.
    assert normalize_query("  " + "ab/" * 70 + "  ") == "ab" * 70


def test_the_app_rejects_uploads_and_maps_errors_to_codes(
    t2b_app: Text2BrainApp, recorder: Recorder
) -> None:
    ctx = recorder.context()
    with pytest.raises(PermanentError) as upload:
        t2b_app.preprocess(BlobInput(bucket="uploads", name="u/x.wav", size=3), ctx)
    assert upload.value.code == "invalid_input"
    with pytest.raises(PermanentError) as empty:
        t2b_app.preprocess(TextInput(text=" / "), ctx)
    assert empty.value.code == "empty_query"
    with pytest.raises(PermanentError) as long:
        t2b_app.preprocess(TextInput(text="memory " * 30), ctx)
    assert long.value.code == "query_too_long"


def test_preprocess_gives_token_arrays_and_the_normalized_query(
    t2b_app: Text2BrainApp, recorder: Recorder
) -> None:
    features = t2b_app.preprocess(TextInput(text="  Face Recognition/ "), recorder.context())

    assert features["query"] == "face recognition"
    ids, mask = features["input_ids"], features["attention_mask"]
    assert ids.dtype == np.int64 and mask.dtype == np.int64
    assert ids.shape == mask.shape and ids.shape[0] == 1
    assert ids[0, 0] == 101 and ids[0, -1] == 102  # [CLS] … [SEP]
    assert mask.all()
    assert features["model"] == t2b_app.model_info().model_dump()
