"""One watcher per process wakes waiting consumers; the consumers no longer poll SQLite.

Each test makes a consumer's own re-probe interval (and its pull's timeout) far
longer than it waits for the message, so the message can only arrive in time
because the watcher woke the consumer for it.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.contract.support import subprocess_env, wait_until
from tributary.adapters.local import wakeups
from tributary.backend import Backend, open_backend
from tributary.config import load_settings
from tributary.ports import SubscriptionConfig

_PUBLISH = """
import sys
from tributary.backend import open_backend
from tributary.config import load_settings
open_backend(load_settings()).bus.publish(sys.argv[1], b"from another process")
"""


@pytest.fixture
def backend(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(wakeups, "REPROBE_S", 120.0)
    opened = open_backend(load_settings({}, data_dir=tmp_path / "data"))
    opened.bus.create_topic("work")
    opened.bus.create_subscription(
        SubscriptionConfig(
            name="work-sub", topic="work", ack_deadline_s=30.0, min_backoff_s=0.3, max_backoff_s=1
        )
    )
    yield opened
    opened.close()


def _watchers(backend: Backend) -> list[threading.Thread]:
    """The watcher threads of ``backend``'s database file (other tests' may still run)."""
    mine = f"ready-watcher:{backend.settings.data_dir}"
    return [t for t in threading.enumerate() if t.name.startswith(mine)]


def _pulling(backend: Backend, pulled: list[tuple[bytes, int]]) -> threading.Thread:
    """A consumer waiting up to 60 s for one message, started."""

    def pull() -> None:
        messages = backend.bus.pull("work-sub", timeout=60)
        pulled.extend((m.data, m.delivery_attempt) for m in messages)

    consumer = threading.Thread(target=pull, daemon=True)
    consumer.start()
    return consumer


def _pull_what_another_process_publishes(backend: Backend) -> list[tuple[bytes, int]]:
    pulled: list[tuple[bytes, int]] = []
    consumer = _pulling(backend, pulled)
    wait_until(lambda: _watchers(backend), timeout=10, what="the watcher to start with a waiter")
    subprocess.run(
        [sys.executable, "-c", _PUBLISH, "work"],
        env=subprocess_env(backend.settings),
        check=True,
        timeout=30,
    )
    consumer.join(timeout=15)
    return pulled


@pytest.mark.timeout(90)
def test_a_message_published_by_another_process_wakes_the_waiting_consumer(
    backend: Backend,
) -> None:
    assert _pull_what_another_process_publishes(backend) == [(b"from another process", 1)]


@pytest.mark.timeout(90)
def test_a_nacked_message_wakes_its_consumer_when_the_backoff_ends(backend: Backend) -> None:
    backend.bus.publish("work", b"retry me")
    first = backend.bus.pull("work-sub", timeout=0)
    backend.bus.nack("work-sub", [first[0].ack_id])  # ready again in 0.3 s, no commit then
    again: list[tuple[bytes, int]] = []
    _pulling(backend, again).join(timeout=15)
    assert again == [(b"retry me", 2)]


@pytest.mark.timeout(90)
def test_the_watcher_stops_when_nobody_waits(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(wakeups, "IDLE_EXIT_S", 0.1)
    assert backend.bus.pull("work-sub", timeout=0.3) == []
    wait_until(lambda: not _watchers(backend), timeout=10, what="the idle watcher to stop")
    # The next waiter starts it again.
    assert _pull_what_another_process_publishes(backend) == [(b"from another process", 1)]


def test_a_commit_wakes_one_waiter_per_message_and_a_plain_notify_wakes_all() -> None:
    from tributary.adapters.local.db import Notifier

    notifier = Notifier()
    woken: list[int] = []
    seen = notifier.version("sub")

    def wait(index: int) -> None:
        notifier.wait(seen, 60, "sub")
        woken.append(index)

    waiters = [threading.Thread(target=wait, args=(i,), daemon=True) for i in range(3)]
    for waiter in waiters:
        waiter.start()
    wait_until(lambda: notifier.waiting() == ["sub"], timeout=10, what="the waiters")
    time.sleep(0.2)  # all three asleep (one still on its way would see the version move)
    notifier.notify_counts({"sub": 1})
    wait_until(lambda: woken, timeout=10, what="one waiter to wake")
    time.sleep(0.2)  # give a wrongly woken second waiter the time to show up
    assert len(woken) == 1
    notifier.notify(["sub"])
    for waiter in waiters:
        waiter.join(timeout=10)
    assert sorted(woken) == [0, 1, 2]
