"""The Google Cloud clients, created on first use and then shared by the whole process.

Creating a client costs a credentials lookup and a connection; a Cloud Function
keeps its process warm between requests, so each client is built once per
(project, endpoint) and reused. Against an emulator the endpoint comes from the
settings and the connection is plain gRPC/HTTP with anonymous credentials; in
production the clients use Application Default Credentials.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

_lock = threading.Lock()
_cache: dict[tuple[str, str, str], Any] = {}


def _shared(kind: str, project: str, endpoint: str, build: Callable[[], T]) -> T:
    key = (kind, project, endpoint)
    with _lock:
        client = _cache.get(key)
        if client is None:
            client = _cache[key] = build()
        return client  # type: ignore[no-any-return]


def default_project() -> str | None:
    """The project Application Default Credentials belong to, if any."""
    import google.auth

    try:
        _credentials, project = google.auth.default()
    except google.auth.exceptions.DefaultCredentialsError:
        return None
    return project


def publisher(project: str, emulator_host: str = "") -> Any:
    """A Pub/Sub PublisherClient (its admin calls, and its transport for Publish requests)."""

    def build() -> Any:
        import google.cloud.pubsub_v1 as pubsub_v1

        if not emulator_host:
            return pubsub_v1.PublisherClient()
        import grpc
        from google.pubsub_v1.services.publisher.transports import PublisherGrpcTransport

        transport = PublisherGrpcTransport(channel=grpc.insecure_channel(emulator_host))
        return pubsub_v1.PublisherClient(transport=transport)

    return _shared("publisher", project, emulator_host, build)


def subscriber(project: str, emulator_host: str = "") -> Any:
    """A Pub/Sub SubscriberClient (synchronous pull, ack, seek, admin)."""

    def build() -> Any:
        import google.cloud.pubsub_v1 as pubsub_v1

        if not emulator_host:
            return pubsub_v1.SubscriberClient()
        import grpc
        from google.pubsub_v1.services.subscriber.transports import SubscriberGrpcTransport

        transport = SubscriberGrpcTransport(channel=grpc.insecure_channel(emulator_host))
        return pubsub_v1.SubscriberClient(transport=transport)

    return _shared("subscriber", project, emulator_host, build)


def firestore(project: str, emulator_host: str = "") -> Any:
    """A Firestore client for the project's default database."""

    def build() -> Any:
        from google.cloud import firestore as firestore_module

        if not emulator_host:
            return firestore_module.Client(project=project or None)
        from google.auth.credentials import AnonymousCredentials

        client = firestore_module.Client(project=project, credentials=AnonymousCredentials())
        # The client finds its emulator only through FIRESTORE_EMULATOR_HOST, read when
        # it is constructed. Setting the attribute it stores that in (before the first
        # call opens a channel) gives the same plain channel and admin "owner" token
        # without changing the process environment for everything else.
        if not hasattr(client, "_emulator_host"):
            raise RuntimeError("this google-cloud-firestore cannot be pointed at an emulator")
        client._emulator_host = emulator_host
        return client

    return _shared("firestore", project, emulator_host, build)


def storage(project: str, emulator_url: str = "") -> Any:
    """A Cloud Storage client."""

    def build() -> Any:
        import google.cloud.storage as storage_module

        if not emulator_url:
            return storage_module.Client(project=project or None)
        from google.auth.credentials import AnonymousCredentials

        return storage_module.Client(
            project=project,
            credentials=AnonymousCredentials(),
            client_options={"api_endpoint": emulator_url},
        )

    return _shared("storage", project, emulator_url, build)
