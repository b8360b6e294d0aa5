"""An upload finalized in the bucket becomes a job.

Two deliveries carry it: the Eventarc ``object.v1.finalized`` CloudEvent (how
``on_upload`` is deployed) and the bucket's Pub/Sub notification (JSON_API_V1,
the form the local backend and the storage emulator's bridge publish). Other
notification types (delete, archive, metadata) are acknowledged and ignored.
"""

from __future__ import annotations

from tributary import envelopes, intake
from tributary.backend import Backend
from tributary.stages import Outcome


def handle(backend: Backend, event: envelopes.Event) -> Outcome:
    resource = envelopes.storage_object(event)
    if resource is not None:
        intake.job_from_upload(backend, resource)
    return "ack"
