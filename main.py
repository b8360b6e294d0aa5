"""Cloud Functions (2nd gen) entry points: decode the event, call the core, map errors.

Every function is declared to the Functions Framework as an HTTP function and
decodes its own envelope (``tributary.envelopes``): Eventarc delivers
CloudEvents as plain HTTP POSTs (binary mode), and reading them here means one
decoder, tested against golden events, for every form a function may receive —
binary or structured CloudEvents, raw Pub/Sub push (with its ``deliveryAttempt``)
and the Firestore emulator's base64 body — and a real status for every answer:

- 200: done (or a duplicate, or nothing to do); the event is acknowledged;
- 400: an event this function cannot use (``unexpected_event_type``,
  ``malformed_event``); redelivery cannot help, so after the subscription's
  maximum attempts it lands on the dead-letter topic, where it is recorded;
- 503: the stage asked for a retry (nack); Pub/Sub redelivers with backoff.

``watchdog`` is the exception: Cloud Scheduler calls it over HTTP every minute.

Nothing is opened at import: the backend is opened once per process, on the
first request (``tributary.functions.RUNTIME``).
"""

from __future__ import annotations

import flask
import functions_framework

from tributary.functions import deliver
from triggers import http, query, upload
from workers import scheduled, stages


@functions_framework.http
def on_upload(request: flask.Request) -> flask.Response:
    """An object finalized in the bucket (Eventarc, or its Pub/Sub notification) → a job."""
    return deliver("on_upload", request, upload.handle)


@functions_framework.http
def on_query(request: flask.Request) -> flask.Response:
    """A client created ``jobs/{job_id}`` with ``app`` and ``input`` → the job starts."""
    return deliver("on_query", request, query.handle)


@functions_framework.http
def preprocess(request: flask.Request) -> flask.Response:
    """A message on ``tributary-jobs``: decode and validate the input, extract features."""
    return deliver("preprocess", request, stages.handler("preprocess"))


@functions_framework.http
def infer(request: flask.Request) -> flask.Response:
    """A message on ``tributary-features``: run the model."""
    return deliver("infer", request, stages.handler("inference"))


@functions_framework.http
def lookup(request: flask.Request) -> flask.Response:
    """A message on ``tributary-predictions``: labels and neighbours; the job succeeds."""
    return deliver("lookup", request, stages.handler("lookup"))


@functions_framework.http
def dead_letter(request: flask.Request) -> flask.Response:
    """A message Pub/Sub gave up on: record it and fail its job."""
    return deliver("dead_letter", request, stages.dead_letter)


@functions_framework.http
def watchdog(request: flask.Request) -> flask.Response:
    """Cloud Scheduler, every minute: restart or fail jobs that stopped making progress.

    Deployed ``--no-allow-unauthenticated``: only the scheduler's service account may
    invoke it (IAM checks its OIDC token before the request gets here).
    """
    return scheduled.watchdog(request)


@functions_framework.http
def api(request: flask.Request) -> flask.Response:
    """The HTTP API (tributary.web): jobs, uploads, event streams, predict, warm-up; CORS allowlist."""
    return http.handle(request)
