"""A query document created by a client in ``jobs/`` becomes a job."""

from __future__ import annotations

from tributary import envelopes, intake
from tributary.backend import Backend
from tributary.stages import Outcome


def handle(backend: Backend, event: envelopes.Event) -> Outcome:
    path, document = envelopes.firestore_document(event)
    intake.job_from_query(backend, path, document)
    return "ack"
