"""Document values between Firestore and the JSON forms the local adapter stores.

Tributary writes JSON values only (timestamps are ISO strings, see
``schemas.format_timestamp``), so documents read back from Firestore are the
same dicts on both backends. Documents written by other clients may hold
Firestore types; those are turned into the JSON forms the pipeline uses.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any

from schemas.models import format_timestamp
from tributary.ports import Document


def to_firestore(data: Document) -> Document:
    """A JSON-clean copy of ``data`` (what the local adapter would store); TypeError if not JSON."""
    copied: Document = json.loads(json.dumps(data))
    return copied


def from_firestore(value: Any) -> Any:
    """Firestore values as JSON values: timestamps → ISO strings, references → paths."""
    if isinstance(value, dict):
        return {key: from_firestore(item) for key, item in value.items()}
    if isinstance(value, list):
        return [from_firestore(item) for item in value]
    if isinstance(value, datetime):
        return format_timestamp(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    path = getattr(value, "path", None)  # a DocumentReference
    if isinstance(path, str):
        return path
    if hasattr(value, "latitude") and hasattr(value, "longitude"):  # a GeoPoint
        return {"latitude": value.latitude, "longitude": value.longitude}
    return value


def nanoseconds(moment: datetime) -> int:
    """A Firestore timestamp as integer nanoseconds since the epoch (keeps its precision)."""
    nanos = getattr(moment, "nanosecond", None)
    seconds = int(moment.timestamp())
    if nanos is None:
        return seconds * 1_000_000_000 + moment.microsecond * 1000
    return seconds * 1_000_000_000 + int(nanos)
