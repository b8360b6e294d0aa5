"""The backends the contract suite runs against, behind one fixture.

Every contract test takes ``under_test`` (or ``backend_factory`` when it needs
its own settings) and talks only to the three ports. Adding a backend means
adding an opener to ``_OPENERS``: the tests themselves do not change.
"""

from __future__ import annotations

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


def _open_local(tmp_path: Path, **overrides: Any) -> BackendUnderTest:
    """The embedded backend on a fresh data dir, its time moved by hand."""
    options: dict[str, Any] = {
        "data_dir": tmp_path / f"data-{uuid.uuid4().hex[:8]}",
        "ack_deadline_s": 10.0,
        "min_backoff_s": 1.0,
        "max_backoff_s": 8.0,
        "max_delivery_attempts": 4,
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


_OPENERS: dict[str, Callable[..., BackendUnderTest]] = {"local": _open_local}


@pytest.fixture(params=sorted(_OPENERS), ids=sorted(_OPENERS))
def backend_factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BackendFactory]:
    """Opens backends of one kind (the param) with setting overrides; closes them after."""
    opener = _OPENERS[request.param]
    opened: list[BackendUnderTest] = []

    def factory(**overrides: Any) -> BackendUnderTest:
        under_test = opener(tmp_path, **overrides)
        opened.append(under_test)
        return under_test

    yield factory
    for under_test in opened:
        under_test.backend.close()


@pytest.fixture
def under_test(backend_factory: BackendFactory) -> BackendUnderTest:
    """A fresh backend with the suite's default settings."""
    return backend_factory()
