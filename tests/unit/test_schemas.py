"""The exported JSON Schema files match the models, and documents validate against them."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import jsonschema
import pytest
from pydantic import ValidationError

from schemas import JobDocument, StageMessage, TextInput
from schemas.export import OUT_DIR, rendered
from tributary import jobs


def test_exported_json_schemas_are_current() -> None:
    for file_name, text in rendered().items():
        path = OUT_DIR / file_name
        assert path.is_file(), f"{path} missing: run python -m schemas.export"
        assert path.read_text() == text, f"{path} is stale: run python -m schemas.export"


def test_a_job_document_validates_against_its_json_schema() -> None:
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    job = jobs.new_job(
        job_id="7b1f3c1e-5a0e-4a65-9a47-1c2f1d4b9c11",
        app="echo",
        job_input=TextInput(text="hi"),
        owner="u1",
        now=now,
        stuck_after_s=60,
    )
    schema = json.loads((OUT_DIR / "job_document.v1.json").read_text())
    document = jobs.dump(job)
    jsonschema.validate(document, schema)
    assert document["created_at"] == "2026-01-02T03:04:05.000000Z"
    assert JobDocument.model_validate(document) == job


def test_stage_messages_reject_unknown_fields_and_bad_runs() -> None:
    base = {"job_id": "j", "app": "echo", "run": 1, "stage": "preprocess"}
    assert StageMessage.model_validate(base).schema_version == 1
    with pytest.raises(ValidationError):
        StageMessage.model_validate({**base, "surprise": 1})
    with pytest.raises(ValidationError):
        StageMessage.model_validate({**base, "run": 0})
    with pytest.raises(ValidationError):
        StageMessage.model_validate({**base, "stage": "training"})


def test_timestamps_are_stored_in_one_fixed_width_utc_form() -> None:
    from datetime import timedelta, timezone

    from schemas import format_timestamp

    instant = datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC)
    in_paris = instant.astimezone(timezone(timedelta(hours=1)))

    assert format_timestamp(instant) == "2026-01-02T03:04:05.000006Z"
    # The same instant in another zone, and a naive time (taken as UTC), format alike;
    # asked again (from the cache), the answer does not change.
    assert format_timestamp(in_paris) == format_timestamp(instant)
    assert format_timestamp(instant.replace(tzinfo=None)) == format_timestamp(instant)
    assert format_timestamp(in_paris) == "2026-01-02T03:04:05.000006Z"
    assert format_timestamp(datetime(999, 1, 1, tzinfo=UTC)) == "0999-01-01T00:00:00.000000Z"
