"""The emulator stack as a pytest plugin: started once per session, on first use.

Loaded from ``tests/conftest.py`` (``pytest_plugins``), so any test in the suite
can take ``emulator_stack`` or ``gcp_backend_factory``. Nothing starts unless a
test asks for it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tributary.backend import Backend, open_backend
from tributary.config import Settings, load_settings
from tributary.emulators import EmulatorStack

# Pub/Sub's limits: ack deadline >= 10 s, 5..100 delivery attempts. Backoffs under a
# second are rounded up to one on the emulator (see tributary.adapters.gcp.bus).
EMULATOR_DEFAULTS: dict[str, Any] = {
    "ack_deadline_s": 10.0,
    "lease_s": 10.0,
    "min_backoff_s": 0.05,
    "max_backoff_s": 0.2,
    "max_delivery_attempts": 5,
    "watchdog_interval_s": 0.2,
}


@pytest.fixture(scope="session")
def emulator_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorStack]:
    """Pub/Sub, Firestore and Cloud Storage emulators shared by the whole session.

    ``emulator_stack.env`` is what a subprocess needs to reach them. Backends opened
    through :func:`emulator_settings` get a project and bucket of their own, so tests
    sharing the emulators never see each other's data.
    """
    stack = EmulatorStack(log_dir=tmp_path_factory.mktemp("emulators"))
    with stack:
        yield stack


def emulator_settings(stack: EmulatorStack, data_dir: Path, **overrides: Any) -> Settings:
    """Settings of a gcp backend on ``stack`` in a fresh project and bucket."""
    isolated = uuid.uuid4().hex[:12]
    options: dict[str, Any] = {
        **stack.settings_overrides(),
        **EMULATOR_DEFAULTS,
        "gcp_project": f"test-{isolated}",
        "bucket": f"test-{isolated}",
        "data_dir": data_dir,
    }
    options.update(overrides)
    return load_settings({}, **options)


@pytest.fixture
def gcp_backend_factory(
    emulator_stack: EmulatorStack, tmp_path: Path
) -> Iterator[Callable[..., Backend]]:
    """Opens gcp backends on the emulators (each isolated), with setting overrides."""
    opened: list[Backend] = []

    def factory(**overrides: Any) -> Backend:
        overrides.setdefault("data_dir", tmp_path / f"data-{len(opened)}")
        backend = open_backend(emulator_settings(emulator_stack, **overrides))
        opened.append(backend)
        return backend

    yield factory
    for backend in opened:
        backend.close()


@pytest.fixture
def gcp_backend(gcp_backend_factory: Callable[..., Backend]) -> Backend:
    """A gcp backend on the emulators with the suite's short timings."""
    return gcp_backend_factory()
