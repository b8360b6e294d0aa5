"""The stage harness: claim, run, record, publish next, retry or fail.

Delivery is at least once, so every step is idempotent:
- the stage is claimed for ``(job, stage, run)`` in a transaction; a duplicate
  delivery of finished work is acknowledged without doing it again;
- a stage records itself finished and saves the next stage's message in one
  transaction, then publishes it (:mod:`tributary.outbox`): a crash in between
  leaves the message saved, and the next delivery of this stage sends it. Where
  the bus can publish inside the document transaction (the embedded backend, one
  SQLite database), the message is published with the record instead;
- the first stage pins the run's model version; a redelivered first message of a
  finished job whose model changed starts a new run (a seek, :mod:`tributary.runs`);
- a permanent error fails the job at once; a transient one leaves the message
  unacknowledged (nack) so the bus redelivers it with backoff; on the last
  allowed attempt the job fails with ``exhausted_retries`` and the bus moves
  the message to the dead-letter topic.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import ValidationError

from schemas import JobDocument, ModelRef, StageMessage
from tributary import cache, jobs, outbox, payloads, runs
from tributary.apps import App, StageContext, get_app
from tributary.backend import Backend
from tributary.config import Settings
from tributary.errors import PermanentError, TransientError, TributaryError
from tributary.logs import event, for_job
from tributary.ports import Message, Transaction
from tributary.registry import registry_for
from tributary.stage_files import input_reader, result_writer
from tributary.topology import STAGES, TOPIC_RESULTS, StageRoute

Outcome = Literal["ack", "nack"]
# How recording a finished stage went: its next message was published with the record
# (or it had none), saved in the outbox to publish now, or the lease had been lost.
Recorded = Literal["recorded", "saved", "lease_lost"]
_log = logging.getLogger("tributary.stages")


class ExhaustedRetries(TransientError):
    code = "exhausted_retries"
    retryable = False


@dataclass
class StageHarness:
    """Runs one stage of the pipeline for messages of its subscription."""

    route: StageRoute
    backend: Backend

    @property
    def settings(self) -> Settings:
        return self.backend.settings

    def handle(self, message: Message) -> Outcome:
        try:
            stage_message = StageMessage.model_validate_json(message.data)
        except ValidationError as exc:
            event(
                _log, "bad_message", logging.ERROR, subscription=self.route.subscription, error=exc
            )
            return "ack"  # a message no code version can read: retrying cannot help
        log = for_job(stage_message.job_id, stage=self.route.stage, run=stage_message.run)
        decision = self._claim(stage_message)
        if isinstance(decision, jobs.Claimed) and decision.job.run != stage_message.run:
            # A seek redelivered a finished job after its model changed: a new run.
            event(log, "new_run", run=decision.job.run, origin=decision.job.run_origin)
            stage_message = stage_message.model_copy(update={"run": decision.job.run})
            log = for_job(stage_message.job_id, stage=self.route.stage, run=stage_message.run)
        if isinstance(decision, jobs.Skip):
            event(
                log, "stage_skipped", logging.DEBUG, stage=self.route.stage, reason=decision.reason
            )
            if decision.finished:
                self._flush_outbox(stage_message)
            return "ack"
        if isinstance(decision, jobs.Busy):
            event(log, "stage_busy", stage=self.route.stage, reason=decision.reason)
            return "nack"
        # The bus's count when the delivery carries one; else the job's count of claims
        # (a push without a dead-letter policy, or from the emulator, carries none).
        attempt = message.delivery_attempt or decision.attempts
        event(log, "stage_claimed", stage=self.route.stage, attempt=attempt)
        started = time.perf_counter()
        try:
            self._run(decision, stage_message, log)
        except PermanentError as exc:
            ms = (time.perf_counter() - started) * 1000
            event(
                log,
                "stage_failed",
                logging.WARNING,
                stage=self.route.stage,
                code=exc.code,
                message=exc.message,
            )
            self._fail(stage_message, decision.lease_id, exc, ms)
            return "ack"
        except Exception as exc:
            return self._retry_or_give_up(stage_message, decision.lease_id, attempt, exc, log)
        return "ack"

    # -- steps -----------------------------------------------------------------

    def _claim(self, msg: StageMessage) -> jobs.Claimed | jobs.Skip | jobs.Busy:
        first = self.route is STAGES[0]
        active = registry_for(self.backend).active_ref(msg.app) if first else None
        with self.backend.documents.transaction() as txn:
            data = txn.get(jobs.job_path(msg.job_id))
            job = jobs.load(data) if data is not None else None
            run = msg.run
            if first and job is not None and jobs.model_changed_since(job, msg.run, active):
                job = runs.restart(
                    txn,
                    job,
                    origin="seek",
                    now=self.backend.clock.now(),
                    stuck_after_s=self.settings.stuck_after_s,
                )
                run = job.run
            decision = jobs.claim(
                job,
                stage=self.route.stage,
                run=run,
                now=self.backend.clock.now(),
                lease_s=self.settings.lease_s,
                stuck_after_s=self.settings.stuck_after_s,
                model=active,
            )
            if isinstance(decision, jobs.Claimed):
                txn.set(jobs.job_path(msg.job_id), jobs.dump(decision.job))
                index = STAGES.index(self.route)
                if index > 0:
                    outbox.mark_delivered(
                        self.backend.bus, txn, msg.job_id, STAGES[index - 1].stage, msg.run
                    )
            return decision

    def _run(self, claimed: jobs.Claimed, msg: StageMessage, log: logging.LoggerAdapter) -> None:  # type: ignore[type-arg]
        job = claimed.job
        started = time.perf_counter()
        app = get_app(job.app, self.settings)
        version = job.model.version if job.model is not None else None
        if version is not None:
            # A version published by another machine is copied here before use; one
            # the app does not find is its own error to report (model_unavailable).
            registry_for(self.backend).fetch_if_published(job.app, version)
        ctx = StageContext(
            job_id=job.job_id,
            settings=self.settings,
            read_blob=input_reader(self.backend.blobs),
            log=log,
            write_blob=result_writer(self.backend.blobs, job.job_id, msg.run),
            run=msg.run,
            model_version=version,
        )
        inputs = payloads.unpack(msg.payload, msg.payload_ref, blobs=self.backend.blobs)
        model = None
        if self.route.stage == "preprocess":
            output = app.preprocess(job.input, ctx)
        elif self.route.stage == "inference":
            output = app.infer(inputs, ctx)
            # The version that actually ran, when the app reports it (a promotion
            # between two stages must not be misreported).
            reported = output.get("model")
            model = (
                ModelRef.model_validate(reported) if reported else (job.model or app.model_info())
            )
        else:
            result = app.lookup(inputs, ctx)
            ms = (time.perf_counter() - started) * 1000
            # The announcement for result listeners: with the record where the bus can,
            # else after it (it is a notification, not work: it needs no outbox).
            announcement = {
                "topic": TOPIC_RESULTS,
                "message": json.dumps({"job_id": job.job_id, "run": msg.run, "app": job.app}),
                "attributes": {"job_id": job.job_id, "state": "succeeded"},
            }
            recorded = self._record(
                msg, claimed.lease_id, ms, log, result=result, send=announcement, outboxed=False
            )
            if recorded == "saved":
                outbox.publish(self.backend.bus, announcement)
            if recorded != "lease_lost":
                event(log, "job_succeeded")
            return
        saved = self._next_message(app, job, msg, output)
        ms = (time.perf_counter() - started) * 1000
        if self._record(msg, claimed.lease_id, ms, log, model=model, send=saved) == "saved":
            outbox.publish(self.backend.bus, saved)

    def _next_message(self, app: App, job: JobDocument, msg: StageMessage, output: dict) -> dict:  # type: ignore[type-arg]
        next_route = STAGES[STAGES.index(self.route) + 1]
        inline, ref = payloads.pack(
            output,
            blobs=self.backend.blobs,
            name=f"work/{job.job_id}/{msg.run}/{self.route.stage}.json",
            inline_max_bytes=self.settings.inline_payload_max_bytes,
        )
        out = StageMessage(
            job_id=job.job_id,
            app=app.name,
            run=msg.run,
            stage=next_route.stage,
            payload=inline,
            payload_ref=ref,
        )
        return outbox.entry(self.route.next_topic, out, {"job_id": job.job_id, "app": app.name})

    def _record(
        self, msg: StageMessage, lease_id: str, ms: float, log, send=None, outboxed=True, **extra
    ) -> Recorded:  # type: ignore[no-untyped-def]
        """Record the stage finished, with the message it sends on (``send``, an outbox entry).

        The message is published in the same transaction when the bus can do that
        ("recorded"); else, saved in the outbox if ``outboxed``, it is the caller's to
        publish after the commit ("saved").
        """
        outcome: Recorded = "recorded"
        with self.backend.documents.transaction() as txn:
            data = txn.get(jobs.job_path(msg.job_id))
            job = jobs.load(data) if data is not None else None
            if job is None or not jobs.holds_lease(job, self.route.stage, msg.run, lease_id):
                event(log, "stage_lease_lost", logging.WARNING, stage=self.route.stage)
                return "lease_lost"
            if send is not None and not outbox.publish_within(self.backend.bus, txn, send):
                if outboxed:
                    txn.set(outbox.outbox_path(msg.job_id, self.route.stage), send)
                outcome = "saved"
            if extra.get("result") is not None:
                extra["result"] = self._remember(txn, job, extra["result"])
            done = jobs.finish_stage(
                job,
                stage=self.route.stage,
                now=self.backend.clock.now(),
                ms=ms,
                stuck_after_s=self.settings.stuck_after_s,
                **extra,
            )
            txn.set(jobs.job_path(msg.job_id), jobs.dump(done))
        event(log, "stage_finished", stage=self.route.stage, ms=ms)
        return outcome

    def _remember(
        self, txn: Transaction, job: JobDocument, result: dict[str, Any]
    ) -> dict[str, Any]:
        """Store a cacheable result (counting this ask) in the job's own transaction."""
        key = get_app(job.app, self.settings).cache_key(job.input)
        if key is None or job.model is None:
            return result
        path = cache.cache_path(job.app, job.model.version, key)
        return cache.store(txn, path, result, self.backend.clock.now())

    def _fail(
        self, msg: StageMessage, lease_id: str | None, error: TributaryError, ms: float | None
    ) -> None:
        with self.backend.documents.transaction() as txn:
            data = txn.get(jobs.job_path(msg.job_id))
            if data is None:
                return
            job = jobs.load(data)
            if job.state in jobs.TERMINAL_STATES:
                return
            if lease_id is not None and not jobs.holds_lease(
                job, self.route.stage, msg.run, lease_id
            ):
                return
            failed = jobs.fail(
                job, error=error, stage=self.route.stage, now=self.backend.clock.now(), ms=ms
            )
            txn.set(jobs.job_path(msg.job_id), jobs.dump(failed))

    def _retry_or_give_up(
        self,
        msg: StageMessage,
        lease_id: str,
        attempt: int,
        exc: Exception,
        log: logging.LoggerAdapter,  # type: ignore[type-arg]
    ) -> Outcome:
        described = (
            exc.message if isinstance(exc, TributaryError) else f"{type(exc).__name__}: {exc}"
        )
        if attempt >= self.settings.max_delivery_attempts:
            event(
                log,
                "stage_exhausted",
                logging.ERROR,
                stage=self.route.stage,
                attempt=attempt,
                error=described,
            )
            error = ExhaustedRetries(
                f"{self.route.stage} failed {attempt} times with a temporary error; last: {described}"
            )
            self._fail(msg, lease_id, error, None)
        else:
            event(
                log,
                "stage_retry",
                logging.WARNING,
                stage=self.route.stage,
                attempt=attempt,
                error=described,
            )
            with self.backend.documents.transaction() as txn:
                data = txn.get(jobs.job_path(msg.job_id))
                if data is not None:
                    job = jobs.load(data)
                    if jobs.holds_lease(job, self.route.stage, msg.run, lease_id):
                        released = jobs.release(
                            job, stage=self.route.stage, now=self.backend.clock.now()
                        )
                        txn.set(jobs.job_path(msg.job_id), jobs.dump(released))
        return "nack"

    def _flush_outbox(self, msg: StageMessage) -> None:
        """Finished, but the next stage never got its message (a crash after the commit)."""
        if self.route.stage == STAGES[-1].stage:
            return
        saved = self.backend.documents.get(outbox.outbox_path(msg.job_id, self.route.stage))
        if saved is not None and outbox.pending(saved, msg.run):
            outbox.publish(self.backend.bus, saved)


def harnesses(backend: Backend) -> list[StageHarness]:
    return [StageHarness(route, backend) for route in STAGES]
