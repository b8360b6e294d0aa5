"""What every Cloud Function shares: its trigger, the process's backend, the HTTP edge.

- :data:`TRIGGERS` names each entry point of ``main.py`` and the event (or the
  schedule) that invokes it; the deployment (``cloudbuild.yaml``) is checked
  against it.
- :data:`RUNTIME` opens the backend once per process, on the first request
  (never at import: a cold start that fails to reach a backend must fail a
  request, visibly, not the module load).
- :func:`deliver` is the edge of every event-driven function: read the event,
  run the handler, and answer with a status the platform understands. A 2xx
  acknowledges; anything else makes Pub/Sub (or Eventarc) deliver the event
  again with backoff, until the subscription's dead-letter policy gives up.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import flask

from tributary import envelopes
from tributary.backend import Backend, open_backend
from tributary.config import load_settings
from tributary.errors import TransientError, TributaryError
from tributary.logs import configure, event
from tributary.stages import Outcome
from tributary.topology import JOBS_COLLECTION, STAGE_BY_NAME, TOPIC_DEAD_LETTER

_log = logging.getLogger("tributary.functions")

TriggerKind = Literal["http", "bucket", "firestore", "topic", "schedule"]

# How often Cloud Scheduler runs the watchdog (cron syntax; a minute is its finest).
WATCHDOG_SCHEDULE = "* * * * *"


@dataclass(frozen=True)
class Trigger:
    """How a function is invoked: HTTP, an upload, a document, a topic, a schedule.

    A ``schedule`` function is an HTTP function that only Cloud Scheduler may call.
    """

    kind: TriggerKind
    # The topic, the document path pattern, or the cron schedule of the trigger.
    resource: str | None = None


TRIGGERS: dict[str, Trigger] = {
    "on_upload": Trigger("bucket"),
    "on_query": Trigger("firestore", f"{JOBS_COLLECTION}/{{job_id}}"),
    "preprocess": Trigger("topic", STAGE_BY_NAME["preprocess"].topic),
    "infer": Trigger("topic", STAGE_BY_NAME["inference"].topic),
    "lookup": Trigger("topic", STAGE_BY_NAME["lookup"].topic),
    "dead_letter": Trigger("topic", TOPIC_DEAD_LETTER),
    "api": Trigger("http"),
    "watchdog": Trigger("schedule", WATCHDOG_SCHEDULE),
}

# The answer that makes the platform deliver an event again (Pub/Sub push and
# Eventarc treat every non-2xx status as a negative acknowledgement).
REDELIVER_STATUS = 503


class Runtime:
    """The settings and backend of this process, opened on first use."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._backend: Backend | None = None

    def backend(self) -> Backend:
        with self._lock:
            if self._backend is None:
                settings = load_settings()
                configure(settings.log_level, settings.log_format)
                self._backend = open_backend(settings)
            return self._backend

    def close(self) -> None:
        """Close the backend; the next request opens it again (tests use this)."""
        with self._lock:
            if self._backend is not None:
                self._backend.close()
                self._backend = None


RUNTIME = Runtime()

EventHandler = Callable[[Backend, envelopes.Event], Outcome]


def deliver(function: str, request: flask.Request, handler: EventHandler) -> flask.Response:
    """Decode the request's event, run ``handler`` on it, map the outcome to a status."""
    try:
        received = envelopes.read_event(dict(request.headers), request.get_data())
        outcome = handler(RUNTIME.backend(), received)
    except envelopes.EventError as exc:
        event(
            _log,
            "event_rejected",
            logging.ERROR,
            function=function,
            code=exc.code,
            error=exc.message,
        )
        return error_response(exc, 400)
    except TransientError as exc:
        return error_response(exc, REDELIVER_STATUS)
    if outcome == "ack":
        return json_response({"outcome": "ack"}, 200)
    return json_response({"outcome": "nack"}, REDELIVER_STATUS)


def json_response(body: Any, status: int) -> flask.Response:
    response = flask.jsonify(body)
    response.status_code = status
    return response


def error_response(exc: TributaryError, status: int) -> flask.Response:
    """``{"error": {"code", "message"}}`` with a real status, never a 200."""
    return json_response({"error": {"code": exc.code, "message": exc.message}}, status)
