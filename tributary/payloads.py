"""Stage payloads: JSON values and numpy arrays, inline in a message or in the blob store.

Arrays travel as ``{"__ndarray__": {"dtype", "shape", "b64"}}`` so a payload is
plain JSON on the wire and comes back with the same dtype and shape.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import numpy as np

from schemas import BlobRef
from tributary.ports import BlobStore

_TAG = "__ndarray__"


def to_wire(value: Any) -> Any:
    """A JSON-able copy of ``value`` with arrays tagged."""
    if isinstance(value, np.ndarray):
        array = np.ascontiguousarray(value)
        return {
            _TAG: {
                "dtype": array.dtype.str,
                "shape": list(array.shape),
                "b64": base64.b64encode(array.tobytes()).decode("ascii"),
            }
        }
    if isinstance(value, dict):
        return {str(k): to_wire(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_wire(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def from_wire(value: Any) -> Any:
    """Undo :func:`to_wire`."""
    if isinstance(value, dict):
        tagged = value.get(_TAG)
        if tagged is not None and len(value) == 1:
            raw = base64.b64decode(tagged["b64"])
            return np.frombuffer(raw, dtype=np.dtype(tagged["dtype"])).reshape(tagged["shape"])
        return {k: from_wire(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_wire(v) for v in value]
    return value


def pack(
    payload: dict[str, Any], *, blobs: BlobStore, name: str, inline_max_bytes: int
) -> tuple[dict[str, Any] | None, BlobRef | None]:
    """Inline a small payload; write a large one to the blob store and return its reference."""
    wire = to_wire(payload)
    encoded = json.dumps(wire).encode()
    if len(encoded) <= inline_max_bytes:
        return wire, None
    info = blobs.put(name, encoded, content_type="application/json")
    return None, BlobRef(bucket=info.bucket, name=info.name, generation=info.generation)


def unpack(
    inline: dict[str, Any] | None, ref: BlobRef | None, *, blobs: BlobStore
) -> dict[str, Any]:
    if ref is not None:
        loaded: dict[str, Any] = from_wire(json.loads(blobs.get(ref.name, ref.generation)))
        return loaded
    result: dict[str, Any] = from_wire(inline or {})
    return result
