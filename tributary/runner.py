"""Run the triggers and the three stages in-process, for the local backend.

One consumer thread (or more) per subscription pulls a few messages, handles them
in order and acks or nacks them before pulling again, so stopping is simple: set
the stop flag, let every thread finish the messages it holds, join. Work that was not
finished (a killed process) is redelivered by the bus after its ack deadline.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable

from tributary import cpu, deadletters, intake, watchdog
from tributary.backend import Backend
from tributary.logs import event
from tributary.ports import Message
from tributary.stages import Outcome, harnesses
from tributary.topology import SUB_DEAD_LETTER, SUB_ON_QUERY, SUB_ON_UPLOAD

Handler = Callable[[Message], Outcome]
_log = logging.getLogger("tributary.runner")
# Messages a consumer thread takes per pull when a backlog is waiting (one when it
# is not): a batch is handled in order and acknowledged in one transaction, so a
# busy stage spends one pull and one ack on several messages.
PULL_BATCH = 4


def _upload_handler(backend: Backend) -> Handler:
    def handle(message: Message) -> Outcome:
        if message.attributes.get("eventType", "OBJECT_FINALIZE") != "OBJECT_FINALIZE":
            return "ack"
        try:
            resource = json.loads(message.data)
        except ValueError as exc:
            event(_log, "bad_message", logging.ERROR, subscription=SUB_ON_UPLOAD, error=exc)
            return "ack"
        intake.job_from_upload(backend, resource)
        return "ack"

    return handle


def _query_handler(backend: Backend) -> Handler:
    def handle(message: Message) -> Outcome:
        try:
            created = json.loads(message.data)
            path, document = str(created["path"]), dict(created["document"])
        except (ValueError, KeyError, TypeError) as exc:
            event(_log, "bad_message", logging.ERROR, subscription=SUB_ON_QUERY, error=exc)
            return "ack"
        intake.job_from_query(backend, path, document)
        return "ack"

    return handle


def handlers(backend: Backend) -> dict[str, Handler]:
    """Every subscription of the pipeline and the function that consumes it."""
    table: dict[str, Handler] = {
        SUB_ON_UPLOAD: _upload_handler(backend),
        SUB_ON_QUERY: _query_handler(backend),
        SUB_DEAD_LETTER: lambda message: deadletters.handle(backend, message),
    }
    for harness in harnesses(backend):
        table[harness.route.subscription] = harness.handle
    return table


class Runner:
    """Consumes every subscription on background threads until stopped."""

    def __init__(
        self,
        backend: Backend,
        *,
        threads_per_subscription: int | None = None,
        watchdog_enabled: bool = True,
        poll_timeout_s: float = 0.25,
    ) -> None:
        self.backend = backend
        self._threads_per_sub = (
            threads_per_subscription or backend.settings.threads_per_subscription
        )
        self._watchdog_enabled = watchdog_enabled
        self._poll_timeout_s = poll_timeout_s
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.handlers = handlers(backend)

    def start(self) -> Runner:
        cpu.one_blas_thread()
        for subscription, handler in self.handlers.items():
            for index in range(self._threads_per_sub):
                self._spawn(f"{subscription}#{index}", self._consume, subscription, handler)
        if self._watchdog_enabled:
            self._spawn("watchdog", self._watch)
        event(_log, "runner_started", threads=self._threads_per_sub)
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Finish in-flight messages, then return. Unstarted work stays on the bus."""
        event(_log, "runner_stopping")
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)
        self._threads.clear()
        event(_log, "runner_stopped")

    def __enter__(self) -> Runner:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _spawn(self, name: str, target: Callable[..., None], *args: object) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _consume(self, subscription: str, handler: Handler) -> None:
        bus = self.backend.bus
        while not self._stop.is_set():
            try:
                messages = bus.pull(
                    subscription, max_messages=PULL_BATCH, timeout=self._poll_timeout_s
                )
            except Exception as exc:
                event(_log, "handler_crashed", logging.ERROR, subscription=subscription, error=exc)
                self._stop.wait(1.0)
                continue
            done: list[str] = []
            for message in messages:
                outcome = self._handle(subscription, handler, message)
                if outcome == "ack":
                    done.append(message.ack_id)
                else:
                    self._settle(bus.nack, subscription, [message.ack_id])
            if done:
                self._settle(bus.ack, subscription, done)

    @staticmethod
    def _settle(
        settle: Callable[[str, list[str]], None], subscription: str, ack_ids: list[str]
    ) -> None:
        try:
            settle(subscription, ack_ids)
        except Exception as exc:
            event(_log, "handler_crashed", logging.ERROR, subscription=subscription, error=exc)

    @staticmethod
    def _handle(subscription: str, handler: Handler, message: Message) -> Outcome:
        try:
            return handler(message)
        except Exception as exc:
            _log.exception(
                "handler crashed on %s: %s", subscription, exc, extra={"event": "handler_crashed"}
            )
            return "nack"

    def _watch(self) -> None:
        interval = self.backend.settings.watchdog_interval_s
        while not self._stop.wait(interval):
            try:
                watchdog.sweep(self.backend)
            except Exception as exc:
                event(_log, "handler_crashed", logging.ERROR, subscription="watchdog", error=exc)
