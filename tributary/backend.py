"""Open the configured backend: the three ports and a clock, wired together."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tributary.config import Settings
from tributary.errors import ConfigError
from tributary.ports import BlobStore, Bus, Clock, DocumentStore


@dataclass
class Backend:
    settings: Settings
    blobs: BlobStore
    documents: DocumentStore
    bus: Bus
    clock: Clock
    # Adapter-specific handle (the local Database), for inspection and tests.
    native: Any = None

    def close(self) -> None:
        close = getattr(self.native, "close", None)
        if callable(close):
            close()


def open_backend(settings: Settings, clock: Clock | None = None) -> Backend:
    """The backend ``settings.backend`` names, with topics and subscriptions in place."""
    if settings.backend == "local":
        from tributary.adapters.local.backend import open_local

        return open_local(settings, clock)
    if settings.backend == "gcp":
        from tributary.adapters.gcp.backend import open_gcp

        return open_gcp(settings, clock)
    raise ConfigError(
        f"backend {settings.backend!r} is not available in this build; use TRIBUTARY_BACKEND=local"
    )
