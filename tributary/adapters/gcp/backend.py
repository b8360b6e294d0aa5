"""Wire the Google Cloud backend: Cloud Storage, Firestore and Pub/Sub (or their emulators).

Each service runs against its emulator when the settings name an emulator host
for it (``TRIBUTARY_*_EMULATOR_HOST``), with the adapter's bridges for what the
emulator lacks turned on; otherwise against Google Cloud with Application
Default Credentials. Against emulators the topology (and bucket) is created on
open, as the local backend does; in production the deployment creates it
(``provision``), so a cold-starting function makes no admin calls.
"""

from __future__ import annotations

from tributary.adapters.gcp import clients
from tributary.adapters.gcp.blobs import GcsBlobStore, Notify
from tributary.adapters.gcp.bus import PubSubBus
from tributary.adapters.gcp.documents import FirestoreDocumentStore
from tributary.backend import Backend
from tributary.clock import SystemClock
from tributary.config import Settings
from tributary.errors import ConfigError
from tributary.ports import Clock
from tributary.topology import JOBS_COLLECTION, TOPIC_QUERIES, TOPIC_UPLOADS


def uses_emulators(settings: Settings) -> bool:
    return bool(
        settings.pubsub_emulator_host
        or settings.firestore_emulator_host
        or settings.storage_emulator_host
    )


def gcp_project(settings: Settings) -> str:
    """The project to use: the settings', else the one Application Default Credentials name."""
    project = settings.gcp_project or (
        None if uses_emulators(settings) else clients.default_project()
    )
    if not project:
        raise ConfigError(
            "no Google Cloud project: set TRIBUTARY_GCP_PROJECT (or run where Application"
            " Default Credentials name one)"
        )
    return project


def open_gcp(
    settings: Settings, clock: Clock | None = None, *, provision: bool | None = None
) -> Backend:
    """The gcp backend for ``settings``; ``provision`` defaults to "only against emulators"."""
    project = gcp_project(settings)
    bus = PubSubBus(
        project, emulator_host=settings.pubsub_emulator_host, retention_s=settings.retention_s
    )
    documents = FirestoreDocumentStore(
        project,
        emulator_host=settings.firestore_emulator_host,
        bus=bus,
        # Production: the Firestore trigger delivers document-created events itself.
        created_topics=(
            {JOBS_COLLECTION: TOPIC_QUERIES} if settings.firestore_emulator_host else None
        ),
    )
    blobs = GcsBlobStore(
        project,
        settings.bucket,
        emulator_url=settings.storage_emulator_host,
        # Production: the bucket's Pub/Sub notification configuration publishes these.
        notify=(
            Notify(bus, TOPIC_UPLOADS, settings.uploads_prefix)
            if settings.storage_emulator_host
            else None
        ),
    )
    if provision if provision is not None else uses_emulators(settings):
        from tributary.adapters.gcp.provision import provision_topology

        provision_topology(bus, settings)
        if blobs.emulator:
            blobs.ensure_bucket()
    return Backend(
        settings=settings,
        blobs=blobs,
        documents=documents,
        bus=bus,
        clock=clock or SystemClock(),
    )
