"""Fixtures shared by the integration tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tributary.backend import Backend, open_backend
from tributary.functions_stack import FunctionsStack


@pytest.fixture
def backend(functions: FunctionsStack) -> Iterator[Backend]:
    """A client's backend on the same emulators as the module's ``functions`` stack."""
    opened = open_backend(functions.settings)
    yield opened
    opened.close()
