"""The BlobStore port on Cloud Storage (or its emulator).

Every put makes a new object generation; reads name a generation when they
need a specific one (the bucket keeps old generations with Object Versioning,
which the deployment turns on). The SHA-256 of the bytes, which Cloud Storage
does not compute, is kept in the object's metadata and left out of the
metadata callers see; objects written by other clients report ``sha256 = ""``.

Emulator gaps bridged here (only with ``emulator=True``):

- *No Pub/Sub notifications.* With ``notify`` set (a bus and topic), a put under
  the uploads prefix publishes the ``OBJECT_FINALIZE`` notification Cloud
  Storage sends in production, in the JSON_API_V1 format with the same
  attributes and the object resource as payload. In production the bucket's
  notification configuration does this; the adapter publishes nothing.
- *Only the live generation is kept, and reads ignore ``generation``.* Each put
  also stores a copy under :data:`GENERATIONS_PREFIX` ``{generation}/{name}``;
  reads of a generation other than the live one come from that copy, and
  listings leave the copies out.
- *Names with a ``..`` segment or a backslash are refused* (the emulator maps
  names to paths). Such names are stored escaped (:func:`stored_name`) and
  unescaped on the way back; a listing prefix that ends inside a ``..`` segment
  does not match them.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from google.api_core import exceptions as api

from tributary.adapters.gcp import clients
from tributary.adapters.gcp.errors import translated
from tributary.errors import NotFound, PermanentError
from tributary.notifications import finalize_attributes
from tributary.ports import BlobInfo, Bus

SHA256_KEY = "tributary-sha256"
GENERATIONS_PREFIX = ".tributary-generations/"


class BlobTooLarge(PermanentError):
    code = "too_large"


@dataclass(frozen=True)
class Notify:
    """Where the emulator bridge publishes finalize notifications, and for which names."""

    bus: Bus
    topic: str
    prefix: str


class GcsBlobStore:
    """The :class:`tributary.ports.BlobStore` for one Cloud Storage bucket."""

    def __init__(
        self,
        project: str,
        bucket: str,
        *,
        emulator_url: str = "",
        notify: Notify | None = None,
    ) -> None:
        self.bucket = bucket
        self.project = project
        self.emulator = bool(emulator_url)
        self._url = emulator_url
        if notify is not None and not self.emulator:
            raise ValueError("finalize notifications are published by Cloud Storage itself")
        self._notify = notify

    @property
    def _bucket(self) -> Any:
        return clients.storage(self.project, self._url).bucket(self.bucket)

    def _blob(self, name: str, generation: int | None = None) -> Any:
        stored = stored_name(name) if self.emulator else name
        return self._bucket.blob(stored, generation=generation)

    def _name(self, stored: str) -> str:
        return public_name(stored) if self.emulator else stored

    def ensure_bucket(self) -> None:
        """Create the bucket if it does not exist (for the emulator; production deploys it)."""
        client = clients.storage(self.project, self._url)
        with translated(f"create bucket {self.bucket}"), contextlib.suppress(api.Conflict):
            client.create_bucket(self.bucket)

    def put(
        self,
        name: str,
        data: bytes,
        *,
        content_type: str | None = None,
        metadata: dict[str, str] | None = None,
    ) -> BlobInfo:
        _check_name(name)
        sha256 = hashlib.sha256(data).hexdigest()
        blob = self._blob(name)
        blob.metadata = {**(metadata or {}), SHA256_KEY: sha256}
        with translated(f"write gs://{self.bucket}/{name}"):
            blob.upload_from_string(data, content_type=content_type or "application/octet-stream")
        info = _info(blob, self.bucket, name)
        if self.emulator:
            self._keep_generation(info, data, content_type)
            if self._notify and name.startswith(self._notify.prefix):
                self._notify.bus.publish(
                    self._notify.topic, finalize_payload(blob, info), finalize_attributes(info)
                )
        return info

    def get(
        self, name: str, generation: int | None = None, *, max_bytes: int | None = None
    ) -> bytes:
        what = f"gs://{self.bucket}/{name}" + (f" generation {generation}" if generation else "")
        blob = self._find(name, generation)
        if blob is None:
            raise NotFound(f"no object {what}")
        if max_bytes is not None and (blob.size or 0) > max_bytes:
            raise BlobTooLarge(
                f"object is {blob.size} bytes; the limit is {max_bytes} bytes", size=blob.size
            )
        # A fresh handle: it reads the generation just checked even if the name was
        # overwritten since (the emulator ignores that), and it does not follow the
        # emulator's mediaLink, which leaves the object name unescaped.
        blob = self._bucket.blob(blob.name, generation=None if self.emulator else blob.generation)
        with translated(f"read {what}"):
            try:
                data: bytes = blob.download_as_bytes()
            except api.NotFound:
                raise NotFound(f"no object {what}") from None
        return data

    def _find(self, name: str, generation: int | None) -> Any | None:
        """The object (its metadata loaded), or None."""
        if not _valid_name(name):
            return None
        if self.emulator and generation is not None:
            kept = self._kept_generation(name, generation)
            if kept is not None:
                return kept
        blob = self._blob(name, generation=None if self.emulator else generation)
        if not self._reload(blob):
            return None
        if generation is not None and blob.generation != generation:
            return None
        return blob

    def stat(self, name: str) -> BlobInfo | None:
        blob = self._find(name, None)
        return None if blob is None else _info(blob, self.bucket, name)

    def list(self, prefix: str = "") -> Iterator[BlobInfo]:
        client = clients.storage(self.project, self._url)
        with translated(f"list gs://{self.bucket}/{prefix}"):
            stored_prefix = stored_name(prefix) if self.emulator and prefix else prefix
            blobs = list(client.list_blobs(self.bucket, prefix=stored_prefix or None))
        infos = [
            _info(b, self.bucket, self._name(b.name))
            for b in blobs
            if not b.name.startswith(GENERATIONS_PREFIX)
        ]
        # Cloud Storage lists by name already; the emulator need not.
        yield from sorted(infos, key=lambda info: info.name)

    def _reload(self, blob: Any) -> bool:
        with translated(f"stat gs://{self.bucket}/{blob.name}"):
            try:
                blob.reload()
            except api.NotFound:
                return False
        return True

    # -- the emulator's generations bridge -----------------------------------

    def _keep_generation(self, info: BlobInfo, data: bytes, content_type: str | None) -> None:
        copy = self._blob(f"{GENERATIONS_PREFIX}{info.generation}/{info.name}")
        copy.metadata = {"generation": str(info.generation)}
        with translated(f"keep generation {info.generation} of {info.name}"):
            copy.upload_from_string(data, content_type=content_type or "application/octet-stream")

    def _kept_generation(self, name: str, generation: int) -> Any | None:
        copy = self._blob(f"{GENERATIONS_PREFIX}{generation}/{name}")
        return copy if self._reload(copy) else None


def _info(blob: Any, bucket: str, name: str) -> BlobInfo:
    metadata = dict(blob.metadata or {})
    sha256 = metadata.pop(SHA256_KEY, "")
    updated = blob.updated or datetime.now(UTC)
    return BlobInfo(
        bucket=bucket,
        name=name,
        generation=int(blob.generation),
        size=int(blob.size or 0),
        content_type=blob.content_type,
        sha256=sha256,
        updated=updated.astimezone(UTC),
        metadata=metadata,
    )


def finalize_payload(blob: Any, info: BlobInfo) -> bytes:
    """The JSON_API_V1 payload: the object resource, as Cloud Storage serialises it."""
    resource = dict(blob._properties)  # the resource exactly as the API returned it
    resource["name"] = info.name
    resource["id"] = f"{info.bucket}/{info.name}/{info.generation}"
    for key in ("generation", "metageneration", "size"):
        if key in resource:
            resource[key] = str(resource[key])
    return json.dumps(resource).encode()


_ESCAPES = {"%": "%25", "\\": "%5C"}
_UNESCAPES = {"%25": "%", "%5C": "\\", "%2E": "."}


def stored_name(name: str) -> str:
    """The name the storage emulator can hold: ``%`` and ``\\`` escaped, ``..`` segments too."""
    escaped = "".join(_ESCAPES.get(char, char) for char in name)
    return "/".join("%2E%2E" if part == ".." else part for part in escaped.split("/"))


def public_name(stored: str) -> str:
    """The inverse of :func:`stored_name`."""
    return re.sub(r"%(25|5C|2E)", lambda m: _UNESCAPES[m.group(0)], stored)


def _valid_name(name: str) -> bool:
    # Cloud Storage's rules: 1-1024 bytes of UTF-8, no CR/LF, not "." or "..".
    encoded = name.encode("utf-8", errors="strict")
    return (
        0 < len(encoded) <= 1024
        and "\r" not in name
        and "\n" not in name
        and name not in (".", "..")
    )


def _check_name(name: str) -> None:
    if not _valid_name(name):
        raise PermanentError(f"invalid object name {name!r}", code="invalid_object_name")
