"""The backends the contract suite runs against, behind one fixture.

Every contract test takes ``under_test`` (or ``backend_factory`` when it needs
its own settings) and talks only to the three ports. Adding a backend means
adding an opener to ``_OPENERS``: the tests themselves do not change.

``local`` is the embedded backend with a manual clock. ``emulators`` is the gcp
backend on the session's emulator stack: each backend it opens gets a project
and bucket of its own, so tests never see each other's topics, subscriptions,
documents or objects; its time is wall-clock time, so ``let_time_pass`` sleeps.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.contract.support import BackendUnderTest
from tributary.backend import open_backend
from tributary.clock import ManualClock
from tributary.config import load_settings

BackendFactory = Callable[..., BackendUnderTest]
Opener = Callable[..., BackendUnderTest]


def _open_local(
    request: pytest.FixtureRequest, tmp_path: Path, **overrides: Any
) -> BackendUnderTest:
    """The embedded backend on a fresh data dir, its time moved by hand."""
    options: dict[str, Any] = {
        "data_dir": tmp_path / f"data-{uuid.uuid4().hex[:8]}",
        "ack_deadline_s": 10.0,
        "min_backoff_s": 1.0,
        "max_backoff_s": 8.0,
        "max_delivery_attempts": 5,
    }
    options.update(overrides)
    settings = load_settings({}, **options)
    clock = ManualClock()
    return BackendUnderTest(
        kind="local",
        backend=open_backend(settings, clock),
        settings=settings,
        let_time_pass=clock.advance,
    )


def _open_emulators(
    request: pytest.FixtureRequest, tmp_path: Path, **overrides: Any
) -> BackendUnderTest:
    """The gcp backend on the session's emulators, in a project and bucket of its own."""
    stack = request.getfixturevalue("emulator_stack")
    isolated = uuid.uuid4().hex[:12]
    options: dict[str, Any] = {
        **stack.settings_overrides(),
        "gcp_project": f"contract-{isolated}",
        "bucket": f"contract-{isolated}",
        "data_dir": tmp_path / f"data-{isolated}",
        # Pub/Sub's own limits: ack deadline >= 10 s, 5..100 delivery attempts.
        "ack_deadline_s": 10.0,
        "min_backoff_s": 1.0,
        "max_backoff_s": 8.0,
        "max_delivery_attempts": 5,
    }
    options.update(overrides)
    settings = load_settings({}, **options)
    return BackendUnderTest(
        kind="emulators",
        backend=open_backend(settings),
        settings=settings,
        let_time_pass=time.sleep,
    )


_OPENERS: dict[str, Opener] = {"local": _open_local, "emulators": _open_emulators}


@pytest.fixture(params=sorted(_OPENERS), ids=sorted(_OPENERS))
def backend_factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BackendFactory]:
    """Opens backends of one kind (the param) with setting overrides; closes them after."""
    opener = _OPENERS[request.param]
    opened: list[BackendUnderTest] = []

    def factory(**overrides: Any) -> BackendUnderTest:
        under_test = opener(request, tmp_path, **overrides)
        opened.append(under_test)
        return under_test

    yield factory
    for under_test in opened:
        under_test.backend.close()


@pytest.fixture
def under_test(backend_factory: BackendFactory) -> BackendUnderTest:
    """A fresh backend with the suite's default settings."""
    return backend_factory()
