"""Functions Cloud Scheduler runs: the watchdog sweep.

Only Cloud Scheduler may run it: the function is deployed with
``--no-allow-unauthenticated``, its scheduler job calls it with an OIDC token of
the ``tributary-scheduler`` service account, and that account alone holds the
invoker role on it (``deploy/schedule.sh``). IAM checks the token before a request
reaches this code, so nothing here reads it.

``POST`` runs one sweep (:func:`tributary.watchdog.sweep`) and answers what it did,
``{"restarted": n, "failed": m}``. A sweep that cannot reach the backend answers
503, and the scheduler's next run (a minute later) tries again.
"""

from __future__ import annotations

import logging

import flask

from tributary import watchdog as sweeps
from tributary.errors import PermanentError, TransientError
from tributary.functions import REDELIVER_STATUS, RUNTIME, error_response, json_response
from tributary.logs import event

_log = logging.getLogger("tributary.functions.watchdog")


def watchdog(request: flask.Request) -> flask.Response:
    """One sweep per POST; other methods are refused (a GET must not change jobs)."""
    if request.method != "POST":
        refused = PermanentError(
            f"{request.method} does not run the watchdog; POST does", code="method_not_allowed"
        )
        return error_response(refused, 405)
    try:
        counts = sweeps.sweep(RUNTIME.backend())
    except TransientError as exc:
        event(_log, "watchdog_unavailable", logging.ERROR, code=exc.code, error=exc.message)
        return error_response(exc, REDELIVER_STATUS)
    level = logging.WARNING if any(counts.values()) else logging.INFO
    event(_log, "watchdog_swept", level, **counts)
    return json_response(counts, 200)
