"""Cloud Storage's Pub/Sub notification for a finalized object, as both backends send it."""

from __future__ import annotations

from datetime import UTC

from tributary.ports import BlobInfo


def finalize_attributes(info: BlobInfo) -> dict[str, str]:
    """The message attributes Cloud Storage sets on an OBJECT_FINALIZE notification."""
    event_time = info.updated.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return {
        "notificationConfig": f"projects/_/buckets/{info.bucket}/notificationConfigs/1",
        "eventType": "OBJECT_FINALIZE",
        "payloadFormat": "JSON_API_V1",
        "bucketId": info.bucket,
        "objectId": info.name,
        "objectGeneration": str(info.generation),
        "eventTime": event_time,
    }
