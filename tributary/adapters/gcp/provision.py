"""Create the pipeline's topics, subscriptions (and, on the emulator, bucket), idempotently.

Topics and subscriptions come from :mod:`tributary.topology`, with the retry and
dead-letter policy the settings name; running this again brings existing
subscriptions' policies in line. In production the service account that runs it
needs the Pub/Sub Editor role, and the Pub/Sub service agent must be allowed to
publish to the dead-letter topic and subscribe to the source subscriptions.
"""

from __future__ import annotations

import logging

from tributary.adapters.gcp.blobs import GcsBlobStore
from tributary.adapters.gcp.bus import PubSubBus
from tributary.config import Settings
from tributary.topology import ALL_TOPICS, subscriptions

_log = logging.getLogger("tributary.gcp.provision")


def provision_topology(bus: PubSubBus, settings: Settings) -> None:
    """Every topic and subscription of the pipeline, with its policies."""
    for topic in ALL_TOPICS:
        bus.create_topic(topic)
    for config in subscriptions(settings):
        bus.create_subscription(config)
    _log.info(
        "topics and subscriptions in place in project %s",
        bus.project,
        extra={"event": "provisioned", "project": bus.project},
    )


def provision(settings: Settings) -> None:
    """Create everything the gcp backend of ``settings`` needs (the bucket only on an emulator)."""
    from tributary.adapters.gcp.backend import open_gcp

    backend = open_gcp(settings, provision=False)
    assert isinstance(backend.bus, PubSubBus) and isinstance(backend.blobs, GcsBlobStore)
    provision_topology(backend.bus, settings)
    if backend.blobs.emulator:
        backend.blobs.ensure_bucket()
