"""What the bus remembers about messages it handed out: their attempt numbers.

Pub/Sub reports ``delivery_attempt`` only on subscriptions with a dead-letter
policy (0 elsewhere). For the others this process counts the deliveries it saw
of each message, so attempts still read 1, 2, 3… to a single consumer process.
Nacks need the attempt of the ack id they give back (for the emulator's backoff
bridge), so that is remembered too. Both tables are bounded: an entry for a
message acked elsewhere is forgotten eventually instead of piling up.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

_MAX_ENTRIES = 100_000


class _Bounded(OrderedDict[tuple[str, str], tuple[str, int]]):
    def remember(self, key: tuple[str, str], value: tuple[str, int]) -> None:
        self[key] = value
        self.move_to_end(key)
        while len(self) > _MAX_ENTRIES:
            self.popitem(last=False)


class DeliveryLog:
    """Attempt numbers by (subscription, message id) and by (subscription, ack id)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen = _Bounded()  # (subscription, message id) -> (message id, attempt)
        self._by_ack = _Bounded()  # (subscription, ack id) -> (message id, attempt)

    def delivered(self, subscription: str, message_id: str, ack_id: str, reported: int) -> int:
        """Record one delivery; the attempt number (Pub/Sub's when it reports one)."""
        with self._lock:
            counted = self._seen.get((subscription, message_id), ("", 0))[1] + 1
            attempt = reported or counted
            self._seen.remember((subscription, message_id), (message_id, attempt))
            self._by_ack.remember((subscription, ack_id), (message_id, attempt))
            return attempt

    def attempt_of(self, subscription: str, ack_id: str) -> int | None:
        with self._lock:
            entry = self._by_ack.get((subscription, ack_id))
            return None if entry is None else entry[1]

    def acked(self, subscription: str, ack_ids: list[str]) -> None:
        """Forget messages that are done with."""
        with self._lock:
            for ack_id in ack_ids:
                entry = self._by_ack.pop((subscription, ack_id), None)
                if entry is not None:
                    self._seen.pop((subscription, entry[0]), None)

    def returned(self, subscription: str, ack_ids: list[str]) -> None:
        """Forget ack ids given back; their messages keep counting when they return."""
        with self._lock:
            for ack_id in ack_ids:
                self._by_ack.pop((subscription, ack_id), None)

    def forget_subscription(self, subscription: str) -> None:
        """After a seek: Pub/Sub starts counting the replayed messages afresh."""
        with self._lock:
            for table in (self._seen, self._by_ack):
                for key in [k for k in table if k[0] == subscription]:
                    del table[key]


def backoff_s(attempt: int, minimum: float, maximum: float) -> float:
    """Exponential backoff after the ``attempt``-th delivery failed (as the local bus)."""
    return min(maximum, minimum * 2 ** max(attempt - 1, 0))
