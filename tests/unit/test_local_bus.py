"""The embedded bus keeps its promises across restarts and kills (SQLite durability)."""

from __future__ import annotations

import random
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.contract.support import script_command, subprocess_env, wait_until
from tributary.adapters.local.bus import LocalBus
from tributary.backend import open_backend
from tributary.clock import ManualClock
from tributary.config import Settings, load_settings
from tributary.ports import SubscriptionConfig

_MESSAGE_ID = re.compile(r"[0-9a-f]{32}")


def _ids(path: Path) -> list[str]:
    """The complete message ids recorded in ``path`` (a torn last line is ignored)."""
    if not path.exists():
        return []
    return [line for line in path.read_text().split("\n") if _MESSAGE_ID.fullmatch(line)]


def test_messages_and_leases_survive_closing_and_reopening_the_backend(
    settings: Settings,
) -> None:
    clock = ManualClock()
    first = open_backend(settings, clock)
    first.bus.create_topic("durable")
    first.bus.create_subscription(
        SubscriptionConfig(name="durable-sub", topic="durable", ack_deadline_s=10.0)
    )
    leased = first.bus.publish("durable", b"leased")
    assert [m.message_id for m in first.bus.pull("durable-sub", timeout=0)] == [leased]
    waiting = first.bus.publish("durable", b"waiting")
    first.close()

    second = open_backend(settings, clock)
    try:
        now = second.bus.pull("durable-sub", timeout=0)
        second.bus.ack("durable-sub", [m.ack_id for m in now])
        clock.advance(11.0)
        later = second.bus.pull("durable-sub", timeout=0)
    finally:
        second.close()

    assert [(m.message_id, m.data, m.delivery_attempt) for m in now] == [(waiting, b"waiting", 1)]
    assert [(m.message_id, m.data, m.delivery_attempt) for m in later] == [(leased, b"leased", 2)]


class _Restartable:
    """One helper script run again and again, its stderr kept in a log file."""

    def __init__(self, command: list[str], env: dict[str, str], log: Path) -> None:
        self._command, self._env, self._log = command, env, log
        self.process = self._spawn()

    def _spawn(self) -> subprocess.Popen[bytes]:
        with self._log.open("ab") as log:
            return subprocess.Popen(
                self._command, env=self._env, stdout=subprocess.DEVNULL, stderr=log
            )

    def kill_mid_stream(self, progress: Path, rng: random.Random) -> None:
        """Once it has made progress, SIGKILL it at a random moment, then start it again."""
        before = len(_ids(progress))
        wait_until(
            lambda: len(_ids(progress)) > before or self.process.poll() is not None,
            timeout=10,
            what=f"progress in {progress.name}",
        )
        time.sleep(rng.uniform(0.0, 0.25))
        assert self.process.poll() is None, f"exited on its own: {self._log.read_text()}"
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)
        self.process = self._spawn()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)


@pytest.mark.timeout(60)
def test_no_published_message_is_lost_when_publisher_and_consumer_are_killed(
    tmp_path: Path,
) -> None:
    """Publisher and consumer are SIGKILLed four times each, mid-stream, and restarted.

    The publisher records an id only after ``publish`` returned it; the consumer
    records an id before acknowledging it. At the end every recorded id was
    received, and nothing is left unacknowledged.
    """
    settings = load_settings({}, data_dir=tmp_path / "data", ack_deadline_s=1.0)
    setup = open_backend(settings)
    assert isinstance(setup.bus, LocalBus)
    setup.bus.create_topic("stream")
    # No dead-letter policy: every message must end up acknowledged on this subscription.
    setup.bus.create_subscription(
        SubscriptionConfig(name="stream-sub", topic="stream", ack_deadline_s=1.0)
    )
    published, consumed, stop = (tmp_path / n for n in ("published", "consumed", "stop"))
    env = subprocess_env(settings)
    consume = script_command("consume_stream.py", "stream-sub", str(consumed))
    publisher = _Restartable(
        script_command("publish_stream.py", "stream", str(published), str(stop)),
        env,
        tmp_path / "publisher.log",
    )
    consumer = _Restartable(consume, env, tmp_path / "consumer.log")
    rng = random.Random(20260101)
    victims = [(publisher, published)] * 4 + [(consumer, consumed)] * 4
    rng.shuffle(victims)
    try:
        for victim, progress in victims:
            victim.kill_mid_stream(progress, rng)
        wait_until(lambda: len(_ids(published)) >= 300, timeout=20, what="300 messages")
        stop.touch()
        assert publisher.process.wait(timeout=20) == 0, (tmp_path / "publisher.log").read_text()
        wait_until(
            lambda: set(_ids(published)) <= set(_ids(consumed)),
            timeout=20,
            what="the consumer to receive every published message",
        )
    finally:
        publisher.stop()
        consumer.stop()
    # What the last kill left leased comes back after the ack deadline: drain it.
    drain = subprocess.run([*consume, "1.5"], env=env, capture_output=True, timeout=20)
    assert drain.returncode == 0, drain.stderr

    unacknowledged = setup.bus.backlog("stream-sub")
    setup.close()
    missing = set(_ids(published)) - set(_ids(consumed))
    assert not missing, f"{len(missing)} published messages never delivered"
    assert unacknowledged == 0, "messages left unacknowledged"


def _pulled_data(bus: LocalBus, subscription: str, count: int) -> list[bytes]:
    return [message.data for message in bus.pull(subscription, max_messages=count, timeout=0)]


def test_messages_come_due_oldest_first_whether_new_or_back_from_an_expired_lease(
    settings: Settings,
) -> None:
    clock = ManualClock()
    backend = open_backend(settings, clock)
    bus = backend.bus
    try:
        bus.create_topic("t")
        bus.create_subscription(SubscriptionConfig(name="s", topic="t", ack_deadline_s=10.0))
        bus.publish("t", b"first")
        assert _pulled_data(bus, "s", 1) == [b"first"]  # leased until +10 s
        clock.advance(1.0)
        bus.publish("t", b"second")
        bus.publish("t", b"third")
        clock.advance(10.0)  # the lease ran out at +10 s
        bus.publish("t", b"fourth")

        assert _pulled_data(bus, "s", 2) == [b"second", b"third"]  # due at +1 s
        assert _pulled_data(bus, "s", 4) == [b"first", b"fourth"]  # due at +10 s, +11 s
    finally:
        backend.close()


def test_a_pull_reads_no_more_of_the_database_with_a_long_backlog(settings: Settings) -> None:
    """Counted in SQLite VM steps (deterministic), not time."""
    backend = open_backend(settings, ManualClock())
    bus = backend.bus
    try:
        bus.create_topic("t")
        bus.create_subscription(SubscriptionConfig(name="s", topic="t", ack_deadline_s=60.0))

        def steps_to_pull_four() -> int:
            steps = [0]

            def count() -> int:
                steps[0] += 1
                return 0

            connection = bus._db._connection()  # this thread's: the one the pull uses
            connection.set_progress_handler(count, 100)
            try:
                assert len(bus.pull("s", max_messages=4, timeout=0)) == 4
            finally:
                connection.set_progress_handler(None, 0)
            return steps[0] * 100

        for _ in range(8):
            bus.publish("t", b"x")
        short = steps_to_pull_four()
        for _ in range(3000):
            bus.publish("t", b"x")
        long = steps_to_pull_four()

        assert long < 2 * short + 1000, (short, long)
    finally:
        backend.close()
