"""Settings from the environment, and the defaults that depend on the backend."""

from __future__ import annotations

import threading

import pytest

from tributary.backend import open_backend
from tributary.config import Settings, load_settings
from tributary.errors import ConfigError
from tributary.runner import Runner


def test_consumer_threads_per_subscription_default_by_backend() -> None:
    assert load_settings({}).threads_per_subscription == 1
    gcp = load_settings({"TRIBUTARY_BACKEND": "gcp", "TRIBUTARY_GCP_PROJECT": "p"})
    assert gcp.threads_per_subscription == 2
    assert load_settings({"TRIBUTARY_WORKER_THREADS": "3"}).threads_per_subscription == 3


def test_a_negative_thread_count_is_refused() -> None:
    with pytest.raises(ConfigError, match="TRIBUTARY_WORKER_THREADS"):
        load_settings({"TRIBUTARY_WORKER_THREADS": "-1"})


@pytest.mark.parametrize(("configured", "expected"), [(0, 1), (2, 2)])
def test_a_runner_starts_the_configured_consumers_per_subscription(
    settings: Settings, configured: int, expected: int
) -> None:
    backend = open_backend(settings.with_overrides(worker_threads=configured))
    try:
        with Runner(backend, watchdog_enabled=False) as runner:
            names = [thread.name for thread in threading.enumerate()]
            for subscription in runner.handlers:
                consumers = [name for name in names if name.startswith(f"{subscription}#")]
                assert len(consumers) == expected, (subscription, consumers)
    finally:
        backend.close()
