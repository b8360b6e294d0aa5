"""Cloud Storage semantics on the filesystem: immutable object generations.

Object bytes live under ``<root>/<bucket>/<generation>.bin``: the object's name
never becomes a path, so no uploaded name can escape the data directory. The
index (name → generations, size, hash, content type) is in SQLite. A write
under the uploads prefix publishes the ``OBJECT_FINALIZE`` notification Cloud
Storage would send to Pub/Sub, in the JSON_API_V1 payload format.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

from tributary.adapters.local.bus import LocalBus
from tributary.adapters.local.db import Database
from tributary.clock import SystemClock, from_epoch, to_epoch
from tributary.errors import NotFound, PermanentError
from tributary.notifications import finalize_attributes
from tributary.ports import BlobInfo, Clock


class BlobTooLarge(PermanentError):
    code = "too_large"


class LocalBlobStore:
    """The embedded :class:`tributary.ports.BlobStore` for one bucket."""

    def __init__(
        self,
        db: Database,
        root: Path,
        bucket: str,
        *,
        clock: Clock | None = None,
        bus: LocalBus | None = None,
        notify_topic: str | None = None,
        notify_prefix: str = "",
    ) -> None:
        self.bucket = bucket
        self._db = db
        self._dir = root / _safe_component(bucket)
        self._dir.mkdir(parents=True, exist_ok=True)
        self._clock = clock or SystemClock()
        self._bus = bus
        self._notify_topic = notify_topic
        self._notify_prefix = notify_prefix

    def put(
        self,
        name: str,
        data: bytes,
        *,
        content_type: str | None = None,
        metadata: dict[str, str] | None = None,
    ) -> BlobInfo:
        _check_name(name)
        generation = time.time_ns()
        # Generations are unique across processes: the file is created exclusively.
        # Readers find it only through the index row, inserted once the bytes are durable.
        while True:
            try:
                handle = open(self._dir / f"{generation}.bin", "xb")  # noqa: SIM115
                break
            except FileExistsError:
                generation += 1
        with handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        info = BlobInfo(
            bucket=self.bucket,
            name=name,
            generation=generation,
            size=len(data),
            content_type=content_type,
            sha256=hashlib.sha256(data).hexdigest(),
            updated=self._clock.now(),
            metadata=dict(metadata or {}),
        )
        with self._db.write() as conn:
            conn.execute(
                "INSERT INTO blobs VALUES (?,?,?,?,?,?,?,?)",
                (
                    self.bucket,
                    name,
                    generation,
                    info.size,
                    content_type,
                    info.sha256,
                    to_epoch(info.updated),
                    json.dumps(info.metadata, sort_keys=True),
                ),
            )
            if self._bus and self._notify_topic and name.startswith(self._notify_prefix):
                self._bus.publish_in(
                    conn, self._notify_topic, finalize_payload(info), finalize_attributes(info)
                )
        return info

    def get(
        self, name: str, generation: int | None = None, *, max_bytes: int | None = None
    ) -> bytes:
        info = self._info(self._db.read(), name, generation)
        if info is None:
            suffix = f" generation {generation}" if generation else ""
            raise NotFound(f"no object gs://{self.bucket}/{name}{suffix}")
        if max_bytes is not None and info.size > max_bytes:
            raise BlobTooLarge(
                f"object is {info.size} bytes; the limit is {max_bytes} bytes", size=info.size
            )
        return (self._dir / f"{info.generation}.bin").read_bytes()

    def stat(self, name: str) -> BlobInfo | None:
        return self._info(self._db.read(), name, None)

    def list(self, prefix: str = "") -> Iterator[BlobInfo]:
        rows = (
            self._db.read()
            .execute(
                "SELECT * FROM blobs b WHERE bucket=? AND substr(name, 1, ?)=? AND generation="
                " (SELECT MAX(generation) FROM blobs WHERE bucket=b.bucket AND name=b.name)"
                " ORDER BY name",
                (self.bucket, len(prefix), prefix),
            )
            .fetchall()
        )
        for row in rows:
            yield _info_from_row(row)

    def _info(self, conn: sqlite3.Connection, name: str, generation: int | None) -> BlobInfo | None:
        if generation is None:
            row = conn.execute(
                "SELECT * FROM blobs WHERE bucket=? AND name=? ORDER BY generation DESC LIMIT 1",
                (self.bucket, name),
            ).fetchone()
        else:
            row = conn.execute(
                "SELECT * FROM blobs WHERE bucket=? AND name=? AND generation=?",
                (self.bucket, name, generation),
            ).fetchone()
        return None if row is None else _info_from_row(row)


def finalize_payload(info: BlobInfo) -> bytes:
    """The JSON_API_V1 object resource Cloud Storage sends on finalize."""
    resource = {
        "kind": "storage#object",
        "id": f"{info.bucket}/{info.name}/{info.generation}",
        "name": info.name,
        "bucket": info.bucket,
        "generation": str(info.generation),
        "metageneration": "1",
        "contentType": info.content_type or "application/octet-stream",
        "size": str(info.size),
        "timeCreated": info.updated.isoformat().replace("+00:00", "Z"),
        "updated": info.updated.isoformat().replace("+00:00", "Z"),
        "metadata": info.metadata,
        "sha256": info.sha256,
    }
    return json.dumps(resource).encode()


def _info_from_row(row: sqlite3.Row) -> BlobInfo:
    return BlobInfo(
        bucket=row["bucket"],
        name=row["name"],
        generation=row["generation"],
        size=row["size"],
        content_type=row["content_type"],
        sha256=row["sha256"],
        updated=from_epoch(row["updated"]),
        metadata=json.loads(row["metadata"]),
    )


def _check_name(name: str) -> None:
    # Cloud Storage's own rules: 1-1024 bytes of UTF-8, no CR/LF, not "." or "..".
    encoded = name.encode("utf-8", errors="strict")
    if not 0 < len(encoded) <= 1024 or "\r" in name or "\n" in name or name in (".", ".."):
        raise PermanentError(f"invalid object name {name!r}", code="invalid_object_name")


def _safe_component(bucket: str) -> str:
    if not bucket or not all(c.isalnum() or c in "-_." for c in bucket) or bucket.startswith("."):
        raise PermanentError(f"invalid bucket name {bucket!r}", code="invalid_bucket_name")
    return bucket
