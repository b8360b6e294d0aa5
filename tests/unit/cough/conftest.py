"""Shared fixtures for the cough app tests: one model trained per session, stage contexts."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest

from apps.cough.app import CoughApp
from schemas import BlobInput, BlobRef, ModelRef
from tests.conftest import COUGH_TEST_VERSION
from tributary.apps import StageContext
from tributary.config import Settings

MODEL_VERSION = COUGH_TEST_VERSION


@pytest.fixture(scope="session")
def trained(cough_settings: Settings) -> tuple[Settings, ModelRef]:
    """A model of the bundled size, trained once per session (see tests/conftest.py)."""
    return cough_settings, ModelRef(name="cough", version=MODEL_VERSION)


@pytest.fixture(scope="session")
def trained_settings(trained: tuple[Settings, ModelRef]) -> Settings:
    return trained[0]


@pytest.fixture(scope="session")
def cough_app(trained_settings: Settings) -> CoughApp:
    app = CoughApp(trained_settings)
    app.warm()
    return app


def make_context(settings: Settings, data: bytes) -> StageContext:
    """A stage context whose blob store holds ``data`` (and enforces the size limit)."""

    def read_blob(ref: BlobRef, limit: int) -> bytes:
        assert len(data) <= limit, "the harness refuses blobs over the limit"
        return data

    return StageContext(
        job_id="job-1",
        settings=settings,
        read_blob=read_blob,
        log=logging.LoggerAdapter(logging.getLogger("tests.cough"), {}),
    )


@pytest.fixture
def context_for() -> Callable[[Settings, bytes], StageContext]:
    """Build a stage context: ``context_for(settings, data)``."""
    return make_context


@pytest.fixture
def blob_for() -> Callable[[bytes], BlobInput]:
    """The job input of an upload of ``data``: ``blob_for(data)``."""
    return lambda data: BlobInput(
        bucket="uploads", name="uploads/u1/cough/job-1.webm", size=len(data)
    )
