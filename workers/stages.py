"""The three stages and the dead-letter handler, fed by Pub/Sub deliveries.

Each stage runs the same :class:`~tributary.stages.StageHarness` the local
runner uses, for the same route (topic in, topic out); the harness decides
ack or nack and the edge turns that into the HTTP status.
"""

from __future__ import annotations

from tributary import deadletters, envelopes
from tributary.backend import Backend
from tributary.functions import EventHandler
from tributary.stages import Outcome, StageHarness
from tributary.topology import STAGE_BY_NAME


def handler(stage: str) -> EventHandler:
    """The handler of one stage (``preprocess``, ``inference`` or ``lookup``)."""
    route = STAGE_BY_NAME[stage]

    def handle(backend: Backend, event: envelopes.Event) -> Outcome:
        return StageHarness(route, backend).handle(envelopes.pubsub_message(event))

    return handle


def dead_letter(backend: Backend, event: envelopes.Event) -> Outcome:
    """Record a message Pub/Sub gave up on and fail its job."""
    return deadletters.handle(backend, envelopes.pubsub_message(event))
