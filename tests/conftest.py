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
TEXT2BRAIN_TEST_VERSION = "test-1"

pytest_plugins = ["tests.conftest_emulators"]

# Building a session's models takes minutes on a busy machine: more than the
# suite's per-test timeout, which would otherwise fail whichever test builds them.
MODEL_FIXTURES = frozenset({"cough_settings", "text2brain_settings"})
MODEL_BUILD_TIMEOUT_S = 900


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if MODEL_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.timeout(MODEL_BUILD_TIMEOUT_S))


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
        max_delivery_attempts=5,
        watchdog_interval_s=0.2,
    )


@pytest.fixture
def backend(settings: Settings) -> Iterator[Backend]:
    opened = open_backend(settings)
    yield opened
    opened.close()


def _source_digest(app: str) -> str:
    """Training is deterministic: the same sources and packages build the same model."""
    digest = hashlib.sha256()
    sources = sorted(
        p for p in (ROOT / "apps" / app).rglob("*") if p.is_file() and "__pycache__" not in p.parts
    )
    for path in [*sources, ROOT / "tributary" / "models.py", ROOT / "constraints.txt"]:
        digest.update(str(path.relative_to(ROOT)).encode() + path.read_bytes())
    return digest.hexdigest()[:16]


def _trained_settings(app: str, version: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings whose model root holds a promoted ``app`` model of the bundled size.

    Trained once and cached under .tributary/test-cache by a hash of the app's
    sources; each session works on its own copy.
    """
    cache = ROOT / ".tributary" / "test-cache" / f"{app}-{_source_digest(app)}"
    if models.current_version(Settings(models_dir=cache), app) is None:
        from tributary.devstack import train_module

        staging = tmp_path_factory.mktemp(f"{app}-build")
        train_module(app).train(
            Settings(data_dir=staging / "data", models_dir=staging / "models"), version=version
        )
        cache.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(cache, ignore_errors=True)
        shutil.copytree(staging / "models", cache)
    root = tmp_path_factory.mktemp(f"{app}-models")
    shutil.copytree(cache, root / "models")
    return Settings(data_dir=root / "data", models_dir=root / "models")


@pytest.fixture(scope="session")
def cough_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A promoted cough model of the bundled size (about a minute to train, then cached)."""
    return _trained_settings("cough", COUGH_TEST_VERSION, tmp_path_factory)


@pytest.fixture(scope="session")
def text2brain_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A promoted text2brain model of the bundled size (two to five minutes, then cached)."""
    return _trained_settings("text2brain", TEXT2BRAIN_TEST_VERSION, tmp_path_factory)


@pytest.fixture(scope="session")
def bundled_models_dir(
    cough_settings: Settings,
    text2brain_settings: Settings,
    tmp_path_factory: pytest.TempPathFactory,
) -> Path:
    """One models directory with both bundled apps, as ``tributary dev`` wants it.

    ``tributary dev`` trains whichever bundled model is missing before it serves,
    so a stack started on a directory with only one of them spends minutes training.
    """
    root = tmp_path_factory.mktemp("bundled-models")
    for app, trained in (("cough", cough_settings), ("text2brain", text2brain_settings)):
        shutil.copytree(trained.model_root / app, root / app)
    return root
