"""Versioned schemas of the job document and the stage messages."""

from schemas.models import (
    SCHEMA_VERSION,
    BlobInput,
    BlobRef,
    JobDocument,
    JobError,
    JobInput,
    JobState,
    ModelRef,
    StageMessage,
    StageName,
    StageRecord,
    TextInput,
    format_timestamp,
)

__all__ = [
    "SCHEMA_VERSION",
    "BlobInput",
    "BlobRef",
    "JobDocument",
    "JobError",
    "JobInput",
    "JobState",
    "ModelRef",
    "StageMessage",
    "StageName",
    "StageRecord",
    "TextInput",
    "format_timestamp",
]
