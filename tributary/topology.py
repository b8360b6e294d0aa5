"""Topic and subscription names: the pipeline's wiring, in one place.

The same names are created by the local backend at start-up and by the
deployment on Google Cloud (``deploy/``).
"""

from __future__ import annotations

from dataclasses import dataclass

from schemas import StageName
from tributary.config import Settings
from tributary.ports import SubscriptionConfig

TOPIC_UPLOADS = "tributary-uploads"  # Cloud Storage OBJECT_FINALIZE notifications
TOPIC_QUERIES = "tributary-queries"  # document-created events of jobs/ (local bridge)
TOPIC_JOBS = "tributary-jobs"
TOPIC_FEATURES = "tributary-features"
TOPIC_PREDICTIONS = "tributary-predictions"
TOPIC_RESULTS = "tributary-results"
TOPIC_DEAD_LETTER = "tributary-dead-letter"

SUB_ON_UPLOAD = "tributary-on-upload"
SUB_ON_QUERY = "tributary-on-query"
SUB_DEAD_LETTER = "tributary-dead-letter"

JOBS_COLLECTION = "jobs"
DEAD_LETTERS_COLLECTION = "deadletters"


@dataclass(frozen=True)
class StageRoute:
    """Where a stage reads from and where its output goes."""

    stage: StageName
    state: str  # the job state while this stage runs
    subscription: str
    topic: str  # the topic the stage consumes
    next_topic: str  # where its output is published


STAGES: tuple[StageRoute, ...] = (
    StageRoute("preprocess", "preprocessing", "tributary-preprocess", TOPIC_JOBS, TOPIC_FEATURES),
    StageRoute("inference", "inference", "tributary-infer", TOPIC_FEATURES, TOPIC_PREDICTIONS),
    StageRoute("lookup", "lookup", "tributary-lookup", TOPIC_PREDICTIONS, TOPIC_RESULTS),
)
STAGE_BY_NAME: dict[str, StageRoute] = {route.stage: route for route in STAGES}
STAGE_BY_SUBSCRIPTION: dict[str, StageRoute] = {route.subscription: route for route in STAGES}

ALL_TOPICS = (
    TOPIC_UPLOADS,
    TOPIC_QUERIES,
    TOPIC_JOBS,
    TOPIC_FEATURES,
    TOPIC_PREDICTIONS,
    TOPIC_RESULTS,
    TOPIC_DEAD_LETTER,
)


def subscriptions(settings: Settings) -> list[SubscriptionConfig]:
    """Every subscription, with the retry and dead-letter policy we deploy."""

    def sub(
        name: str, topic: str, *, retain: bool = False, dead_letter: bool = True
    ) -> SubscriptionConfig:
        return SubscriptionConfig(
            name=name,
            topic=topic,
            ack_deadline_s=settings.ack_deadline_s,
            max_delivery_attempts=settings.max_delivery_attempts if dead_letter else None,
            dead_letter_topic=TOPIC_DEAD_LETTER if dead_letter else None,
            min_backoff_s=settings.min_backoff_s,
            max_backoff_s=settings.max_backoff_s,
            retain_acked=retain,
        )

    return [
        sub(SUB_ON_UPLOAD, TOPIC_UPLOADS),
        sub(SUB_ON_QUERY, TOPIC_QUERIES),
        # The jobs subscription retains acknowledged messages so a seek can replay them.
        sub(STAGES[0].subscription, TOPIC_JOBS, retain=True),
        sub(STAGES[1].subscription, TOPIC_FEATURES),
        sub(STAGES[2].subscription, TOPIC_PREDICTIONS),
        sub(SUB_DEAD_LETTER, TOPIC_DEAD_LETTER, dead_letter=False),
    ]
