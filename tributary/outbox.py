"""The outbox: a stage's next message, saved with the stage's record, then published.

A stage records itself finished and saves the message for the next stage in the
same transaction (``jobs/{job_id}/outbox/{stage}``), and only then publishes it.
So the next stage never starts before the previous one is on the record, and a
crash between the commit and the publish loses nothing: the redelivered message
finds the stage finished and publishes the saved message instead of redoing the
work. The next stage's claim marks the entry delivered.

A bus that can publish inside the document transaction (the embedded backend's)
does so instead, and no entry is saved (:meth:`StageHarness._record`).
"""

from __future__ import annotations

from typing import Any

from schemas import StageMessage
from tributary.ports import Bus, Transaction


def outbox_path(job_id: str, stage: str) -> str:
    return f"jobs/{job_id}/outbox/{stage}"


def entry(topic: str, message: StageMessage, attributes: dict[str, str]) -> dict[str, Any]:
    return {
        "run": message.run,
        "topic": topic,
        "message": message.model_dump_json(),
        "attributes": attributes,
        "delivered": False,
    }


def publish(bus: Bus, saved: dict[str, Any]) -> str:
    return bus.publish(saved["topic"], saved["message"].encode(), dict(saved["attributes"]))


def publish_within(bus: Bus, txn: Transaction, saved: dict[str, Any]) -> bool:
    """Publish an entry's message inside ``txn`` if the bus can (the embedded one can)."""
    publish_in = getattr(bus, "publish_in_transaction", None)
    if publish_in is None:
        return False
    sent = publish_in(txn, saved["topic"], saved["message"].encode(), dict(saved["attributes"]))
    return sent is not None


def mark_delivered(bus: Bus, txn: Transaction, job_id: str, stage: str, run: int) -> None:
    """Called in the next stage's claim: the saved message has arrived.

    Where the bus publishes inside document transactions a stage's message has no
    entry unless the bus could not (a wrapped bus): look before writing one.
    """
    path = outbox_path(job_id, stage)
    if _publishes_within(bus, txn) and txn.get(path) is None:
        return
    txn.set(path, {"run": run, "delivered": True})


def _publishes_within(bus: Bus, txn: Transaction) -> bool:
    can_publish_in = getattr(bus, "can_publish_in", None)
    return bool(can_publish_in and can_publish_in(txn))


def pending(saved: dict[str, Any] | None, run: int) -> bool:
    return bool(saved and saved.get("run") == run and not saved.get("delivered"))
