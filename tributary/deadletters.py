"""Dead letters: record them, fail their jobs, list them, put them back.

Every message the bus gives up on lands on the dead-letter topic. The handler
keeps a copy at ``deadletters/{message_id}``, the dead letter's own id (Pub/Sub
does not keep the source message's id), so operators can list and requeue them on
any backend (a redelivered dead letter finds its record already made). It also
fails the job with ``exhausted_retries`` if it is still waiting on that run.
"""

from __future__ import annotations

import base64
import logging
from typing import Any

from pydantic import ValidationError

from schemas import StageMessage
from tributary import jobs, runs
from tributary.backend import Backend
from tributary.errors import NotFound, PermanentError, TransientError
from tributary.logs import event, for_job
from tributary.ports import (
    DLQ_DELIVERY_ATTEMPTS,
    DLQ_SOURCE_SUBSCRIPTION,
    Message,
)
from tributary.stages import Outcome
from tributary.topology import DEAD_LETTERS_COLLECTION, STAGE_BY_NAME

_log = logging.getLogger("tributary.deadletters")


class DeadLettered(TransientError):
    code = "exhausted_retries"
    retryable = False


def _stage_message(data: bytes) -> StageMessage | None:
    try:
        return StageMessage.model_validate_json(data)
    except ValidationError:
        return None


def handle(backend: Backend, message: Message) -> Outcome:
    """Record a dead letter and fail its job."""
    subscription = message.attributes.get(DLQ_SOURCE_SUBSCRIPTION, "unknown")
    attempts = int(message.attributes.get(DLQ_DELIVERY_ATTEMPTS, "0") or 0)
    stage_message = _stage_message(message.data)
    job_id = stage_message.job_id if stage_message else message.attributes.get("job_id")
    record: dict[str, Any] = {
        "id": message.message_id,
        "subscription": subscription,
        "attempts": attempts,
        "job_id": job_id,
        "stage": stage_message.stage if stage_message else None,
        "run": stage_message.run if stage_message else None,
        "data_b64": base64.b64encode(message.data).decode("ascii"),
        "attributes": dict(message.attributes),
        "dead_lettered_at": backend.clock.now().isoformat(),
        "status": "dead",
    }
    backend.documents.create(f"{DEAD_LETTERS_COLLECTION}/{message.message_id}", record)
    log = for_job(job_id)
    event(log, "dead_lettered", logging.ERROR, subscription=subscription, attempts=attempts)
    if stage_message is not None:
        _fail_job(backend, stage_message, attempts)
    return "ack"


def _fail_job(backend: Backend, msg: StageMessage, attempts: int) -> None:
    with backend.documents.transaction() as txn:
        data = txn.get(jobs.job_path(msg.job_id))
        if data is None:
            return
        job = jobs.load(data)
        if job.state in jobs.TERMINAL_STATES or job.run != msg.run:
            return
        error = DeadLettered(
            f"{msg.stage} was attempted {attempts} times without finishing; "
            "the message was moved to the dead-letter queue"
        )
        failed = jobs.fail(job, error=error, stage=msg.stage, now=backend.clock.now())
        txn.set(jobs.job_path(msg.job_id), jobs.dump(failed))


def list_dead_letters(backend: Backend, include_requeued: bool = False) -> list[dict[str, Any]]:
    rows = backend.documents.query(DEAD_LETTERS_COLLECTION, order_by="dead_lettered_at")
    return [doc for _id, doc in rows if include_requeued or doc.get("status") == "dead"]


def requeue(backend: Backend, dead_letter_id: str) -> dict[str, Any]:
    """Put a dead letter back on its topic; a stage message restarts its job as a new run."""
    path = f"{DEAD_LETTERS_COLLECTION}/{dead_letter_id}"
    record = backend.documents.get(path)
    if record is None:
        raise NotFound(f"no dead letter {dead_letter_id!r}; `tributary dlq` lists them")
    if record.get("status") != "dead":
        raise PermanentError(
            f"dead letter {dead_letter_id} was already requeued", code="already_requeued"
        )
    data = base64.b64decode(record["data_b64"])
    attributes = {
        k: v
        for k, v in record.get("attributes", {}).items()
        if not k.startswith("CloudPubSubDeadLetter")
    }
    topic = _source_topic(backend, record["subscription"])
    stage_message = _stage_message(data)
    run = None
    if stage_message is not None:
        with backend.documents.transaction() as txn:
            job_data = txn.get(jobs.job_path(stage_message.job_id))
            if job_data is None:
                raise NotFound(f"job {stage_message.job_id} no longer exists")
            job = runs.restart(
                txn,
                jobs.load(job_data),
                origin="requeue",
                now=backend.clock.now(),
                stuck_after_s=backend.settings.stuck_after_s,
            )
        run = job.run
        data = stage_message.model_copy(update={"run": run}).model_dump_json().encode()
    backend.bus.publish(topic, data, attributes)
    backend.documents.merge(
        path, {"status": "requeued", "requeued_at": backend.clock.now().isoformat()}
    )
    event(for_job(record.get("job_id")), "requeued", topic=topic, run=run)
    return {**record, "status": "requeued", "topic": topic, "run": run}


def _source_topic(backend: Backend, subscription: str) -> str:
    for route in STAGE_BY_NAME.values():
        if route.subscription == subscription:
            return route.topic
    lookup = getattr(backend.bus, "subscription", None)
    if lookup is None:
        raise NotFound(f"cannot tell which topic subscription {subscription!r} reads")
    topic: str = lookup(subscription).topic
    return topic
