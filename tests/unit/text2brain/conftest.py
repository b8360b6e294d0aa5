"""Shared fixtures for the text2brain tests: one model trained per session, stage contexts."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from apps.text2brain.app import Text2BrainApp
from apps.text2brain.mask import BrainMask, load_mask
from apps.text2brain.reference import build_corpus_reference
from schemas import BlobRef, ModelRef
from tests.conftest import TEXT2BRAIN_TEST_VERSION
from tributary.apps import StageContext
from tributary.config import Settings

MODEL_VERSION = TEXT2BRAIN_TEST_VERSION


@pytest.fixture(scope="session")
def trained(text2brain_settings: Settings) -> tuple[Settings, ModelRef]:
    """The bundled model (small corpus, default training), built once (see tests/conftest.py)."""
    return text2brain_settings, ModelRef(name="text2brain", version=MODEL_VERSION)


@pytest.fixture(scope="session")
def trained_settings(trained: tuple[Settings, ModelRef]) -> Settings:
    return trained[0]


@pytest.fixture(scope="session")
def t2b_app(trained_settings: Settings) -> Text2BrainApp:
    app = Text2BrainApp(trained_settings)
    app.warm()
    return app


@pytest.fixture(scope="session")
def mask() -> BrainMask:
    return load_mask()


@pytest.fixture(scope="session")
def small_reference(tmp_path_factory: pytest.TempPathFactory, mask: BrainMask) -> Path:
    """The small corpus written as a reference set (what a model version serves)."""
    directory = tmp_path_factory.mktemp("reference") / "small"
    build_corpus_reference(directory, mask, size="small", seed=0)
    return directory


@dataclass
class Recorder:
    """A stage context whose blob writer keeps what it was given."""

    settings: Settings
    blobs: dict[str, tuple[bytes, str]] = field(default_factory=dict)

    def write_blob(self, name: str, data: bytes, content_type: str) -> BlobRef:
        self.blobs[name] = (data, content_type)
        return BlobRef(bucket="results", name=f"results/job-1/1/{name}", generation=7)

    def context(self) -> StageContext:
        return StageContext(
            job_id="job-1",
            settings=self.settings,
            read_blob=lambda ref, limit: b"",
            log=logging.LoggerAdapter(logging.getLogger("tests.text2brain"), {}),
            write_blob=self.write_blob,
        )


@pytest.fixture
def recorder(trained_settings: Settings) -> Recorder:
    return Recorder(trained_settings)


def float64_top(maps: np.ndarray, query: np.ndarray, k: int = 5) -> tuple[list[int], np.ndarray]:
    """The reference computation: Pearson's r of every row in float64, top-k by (−r, row)."""
    rows = np.asarray(maps, dtype=np.float64)
    rows = rows - rows.mean(axis=1, keepdims=True)
    centred = np.asarray(query, dtype=np.float64) - np.mean(query, dtype=np.float64)
    scores = rows @ centred / (np.linalg.norm(rows, axis=1) * np.linalg.norm(centred))
    order = np.lexsort((np.arange(len(scores)), -scores))
    return [int(i) for i in order[:k]], scores


ContextFactory = Callable[[], StageContext]
