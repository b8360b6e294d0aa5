"""Shared fixtures: an isolated environment and a fresh embedded backend per test."""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import fakeapps
from tributary import apps, models
from tributary.backend import Backend, open_backend
from tributary.config import Settings, load_settings

ROOT = Path(__file__).resolve().parents[1]
COUGH_TEST_VERSION = "test-1"

pytest_plugins = ["tests.conftest_emulators"]


@pytest.fixture(autouse=True)
def _isolated_environ(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No test sees (or leaks) TRIBUTARY_* settings from the outside world."""
    saved = dict(os.environ)
    for key in list(os.environ):
        if key.startswith("TRIBUTARY_"):
            monkeypatch.delenv(key)
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture(autouse=True)
def _echo_app(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(apps.REGISTRY, "echo", "tests.fakeapps:EchoApp")
    fakeapps.reset()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(
        {},
        data_dir=tmp_path / "data",
        ack_deadline_s=5.0,
        min_backoff_s=0.05,
        max_backoff_s=0.2,
        max_delivery_attempts=4,
        watchdog_interval_s=0.2,
    )


@pytest.fixture
def backend(settings: Settings) -> Iterator[Backend]:
    opened = open_backend(settings)
    yield opened
    opened.close()


def _cough_source_digest() -> str:
    """Training is deterministic: the same sources and packages build the same model."""
    digest = hashlib.sha256()
    sources = sorted((ROOT / "apps" / "cough").glob("*.py"))
    for path in [*sources, ROOT / "tributary" / "models.py", ROOT / "constraints.txt"]:
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:16]


@pytest.fixture(scope="session")
def cough_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings whose model root holds a promoted cough model of the bundled size.

    Trained once (about a minute) and cached under .tributary/test-cache by a hash
    of the training code; each session works on its own copy.
    """
    cache = ROOT / ".tributary" / "test-cache" / f"cough-{_cough_source_digest()}"
    if models.current_version(Settings(models_dir=cache), "cough") is None:
        from apps.cough.train import train

        staging = tmp_path_factory.mktemp("cough-build")
        train(
            Settings(data_dir=staging / "data", models_dir=staging / "models"),
            version=COUGH_TEST_VERSION,
        )
        cache.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(cache, ignore_errors=True)
        shutil.copytree(staging / "models", cache)
    root = tmp_path_factory.mktemp("cough-models")
    shutil.copytree(cache, root / "models")
    return Settings(data_dir=root / "data", models_dir=root / "models")
