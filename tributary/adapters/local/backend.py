"""Wire the embedded backend: one SQLite file and a blob directory under the data dir."""

from __future__ import annotations

from tributary.adapters.local.blobs import LocalBlobStore
from tributary.adapters.local.bus import LocalBus
from tributary.adapters.local.db import Database
from tributary.adapters.local.documents import LocalDocumentStore
from tributary.backend import Backend
from tributary.clock import SystemClock
from tributary.config import Settings
from tributary.ports import Clock
from tributary.topology import (
    ALL_TOPICS,
    JOBS_COLLECTION,
    TOPIC_QUERIES,
    TOPIC_UPLOADS,
    subscriptions,
)


def open_local(settings: Settings, clock: Clock | None = None) -> Backend:
    clock = clock or SystemClock()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.data_dir / "tributary.db")
    bus = LocalBus(db, clock)
    for topic in ALL_TOPICS:
        bus.create_topic(topic)
    for config in subscriptions(settings):
        bus.create_subscription(config)
    documents = LocalDocumentStore(
        db, clock, bus=bus, created_topics={JOBS_COLLECTION: TOPIC_QUERIES}
    )
    blobs = LocalBlobStore(
        db,
        settings.data_dir / "blobs",
        settings.bucket,
        clock=clock,
        bus=bus,
        notify_topic=TOPIC_UPLOADS,
        notify_prefix=settings.uploads_prefix,
    )
    return Backend(
        settings=settings, blobs=blobs, documents=documents, bus=bus, clock=clock, native=db
    )
