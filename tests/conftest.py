"""Shared fixtures: an isolated environment and a fresh embedded backend per test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import fakeapps
from tributary import apps
from tributary.backend import Backend, open_backend
from tributary.config import Settings, load_settings


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
