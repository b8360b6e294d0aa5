"""Message and document schemas (pydantic v2), versioned.

``SCHEMA_VERSION`` is bumped on any incompatible change; readers accept the
versions they know. JSON Schema files under ``schemas/json/`` are exported from
these models by ``python -m schemas.export`` and kept current by a test.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainSerializer

SCHEMA_VERSION = 1


def _as_utc(moment: datetime) -> datetime:
    if moment.tzinfo is UTC:
        return moment
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@functools.lru_cache(maxsize=4096)
def format_timestamp(moment: datetime) -> str:
    """One fixed-width UTC form, so stored timestamps compare as strings in time order.

    Cached: a job document is written a dozen times, and each time most of its
    timestamps are the ones it had before (formatting is ~4 µs, a lookup ~0.3).
    """
    return _as_utc(moment).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


Timestamp = Annotated[
    datetime,
    AfterValidator(_as_utc),
    PlainSerializer(format_timestamp, return_type=str, when_used="json"),
]

JobState = Literal["queued", "preprocessing", "inference", "lookup", "succeeded", "failed"]
StageName = Literal["preprocess", "inference", "lookup"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BlobRef(_Model):
    """A specific generation of an object in a bucket."""

    bucket: str
    name: str
    generation: int | None = None


class BlobInput(_Model):
    """An uploaded file: the job's input is one object generation."""

    kind: Literal["blob"] = "blob"
    bucket: str
    name: str
    generation: int | None = None
    content_type: str | None = None
    size: int | None = Field(default=None, ge=0)
    sha256: str | None = None

    @property
    def ref(self) -> BlobRef:
        return BlobRef(bucket=self.bucket, name=self.name, generation=self.generation)


class TextInput(_Model):
    """A text query written by a client."""

    kind: Literal["text"] = "text"
    text: str


JobInput = Annotated[BlobInput | TextInput, Field(discriminator="kind")]


class ModelRef(_Model):
    name: str
    version: str


class StageRecord(BaseModel):
    """What happened at one stage of one run; the UI shows these live."""

    model_config = ConfigDict(extra="forbid")

    run: int = 0
    attempts: int = 0
    started_at: Timestamp | None = None
    finished_at: Timestamp | None = None
    ms: float | None = None
    lease_id: str | None = None
    lease_expires_at: Timestamp | None = None


class JobError(_Model):
    code: str
    message: str
    stage: StageName | None = None
    retryable: bool = False


class JobDocument(BaseModel):
    """The document at ``jobs/{job_id}``: the user interface of the pipeline."""

    model_config = ConfigDict(extra="forbid")

    schema_version: int = SCHEMA_VERSION
    job_id: str
    app: str
    owner: str | None = None
    created_at: Timestamp
    updated_at: Timestamp
    input: JobInput
    state: JobState = "queued"
    run: int = 1
    # Why the current run started: None for the first, else "replay:<id>", "seek",
    # "requeue" or "watchdog". Earlier runs are kept at jobs/{job_id}/runs/{run}.
    run_origin: str | None = None
    # The model version this run uses, taken when the run starts.
    model: ModelRef | None = None
    stages: dict[StageName, StageRecord] = Field(default_factory=dict)
    result: dict[str, Any] | None = None
    error: JobError | None = None
    # When the job must next show progress; the watchdog acts on jobs past it.
    deadline_at: Timestamp | None = None
    # How many times the watchdog restarted this job after it stopped making progress.
    recoveries: int = 0


class StageMessage(_Model):
    """What travels on the bus between stages."""

    schema_version: int = SCHEMA_VERSION
    job_id: str
    app: str
    run: int = Field(ge=1)
    stage: StageName
    # Small payloads inline (JSON, arrays encoded by tributary.payloads);
    # large ones in the blob store, referenced here.
    payload: dict[str, Any] | None = None
    payload_ref: BlobRef | None = None
