"""Which model version each app serves: the document ``models/{app}``.

Workers read the active version from the document store, so a promotion reaches
running workers within ``settings.model_refresh_s`` without a restart. A job
takes the active version when its run starts (its preprocess claim) and every
stage of that run uses it, so no job mixes two versions.

Model files travel through the blob store (``models/{app}/{version}/…``): a
worker that is asked for a version it does not have on disk copies it from
there into ``settings.model_root`` first. ``tributary train`` builds versions
locally; ``tributary models add`` publishes a version directory built anywhere.

The document::

    {app, active, updated_at,
     versions: {version: {added_at, files, bytes}},
     history: [{version, action: promote | rollback, at}]}

When no document exists yet (a fresh data directory), the version named by the
local ``current`` pointer that training writes is the active one.
"""

from __future__ import annotations

import json
import re
import shutil
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from schemas import ModelRef
from tributary import models
from tributary.backend import Backend
from tributary.errors import ConfigError, PermanentError

REGISTRY_COLLECTION = "models"
BLOB_PREFIX = "models/"
_HISTORY_KEPT = 50


class NothingToRollBack(PermanentError):
    code = "no_previous_version"


def registry_path(app: str) -> str:
    return f"{REGISTRY_COLLECTION}/{app}"


def _blob_dir(app: str, version: str) -> str:
    return f"{BLOB_PREFIX}{app}/{models.check_version(version)}/"


@dataclass(frozen=True)
class VersionInfo:
    version: str
    active: bool
    local: bool
    published: bool
    added_at: str | None


class ModelRegistry:
    """The active version of every app, read through a short-lived cache."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self._cache: dict[str, tuple[float, str | None]] = {}
        self._lock = threading.Lock()

    # -- reading -------------------------------------------------------------

    def active(self, app: str) -> str | None:
        """The version new runs of ``app`` use, or None when nothing is built or promoted."""
        refresh = self.backend.settings.model_refresh_s
        with self._lock:
            cached = self._cache.get(app)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        version = self._active_in(self.backend.documents.get(registry_path(app)) or {}, app)
        with self._lock:
            self._cache[app] = (time.monotonic() + refresh, version)
        return version

    def _active_in(self, document: dict[str, Any], app: str) -> str | None:
        """The document's active version; before any promotion, the one training left current."""
        version: str | None = document.get("active") or models.current_version(
            self.backend.settings, app
        )
        return version

    def active_ref(self, app: str) -> ModelRef | None:
        version = self.active(app)
        return ModelRef(name=app, version=version) if version else None

    def versions(self, app: str) -> list[VersionInfo]:
        document = self.backend.documents.get(registry_path(app)) or {}
        published: dict[str, Any] = document.get("versions", {})
        local = set(models.list_versions(self.backend.settings, app))
        active = self.active(app)
        return [
            VersionInfo(
                version=version,
                active=version == active,
                local=version in local,
                published=version in published,
                added_at=published.get(version, {}).get("added_at"),
            )
            for version in sorted(local | set(published), key=_natural)
        ]

    def history(self, app: str) -> list[dict[str, Any]]:
        document = self.backend.documents.get(registry_path(app)) or {}
        return list(document.get("history", []))

    def order(self, app: str) -> list[str]:
        """Every known version of ``app``, oldest first (versions sort naturally: v2 < v10)."""
        return [info.version for info in self.versions(app)]

    # -- changing ------------------------------------------------------------

    def promote(self, app: str, version: str, *, action: str = "promote") -> str | None:
        """Serve ``version`` for new runs; returns the version it replaces."""
        self.ensure_local(app, version)
        now = self.backend.clock.now().isoformat()
        with self.backend.documents.transaction() as txn:
            document = txn.get(registry_path(app)) or {"app": app, "versions": {}, "history": []}
            previous = self._active_in(document, app)
            if previous and not document.get("history"):
                # The version that served before the registry existed is history too.
                document["history"] = [{"version": previous, "action": "promote", "at": now}]
            document["active"] = version
            document["updated_at"] = now
            document["history"] = [
                *document.get("history", []),
                {"version": version, "action": action, "at": now},
            ][-_HISTORY_KEPT:]
            txn.set(registry_path(app), document)
        models.promote(self.backend.settings, app, version)  # the local pointer follows
        self._forget(app)
        return str(previous) if previous else None

    def rollback(self, app: str) -> str:
        """Serve again the version that was active before the current one."""
        active = self.active(app)
        earlier = [h["version"] for h in self.history(app) if h["version"] != active]
        if not earlier:
            raise NothingToRollBack(f"{app} has no earlier version to roll back to")
        target = str(earlier[-1])
        self.promote(app, target, action="rollback")
        return target

    def add(self, app: str, source: Path, version: str) -> VersionInfo:
        """Publish the model directory ``source`` as ``version`` (it is not promoted)."""
        models.check_version(version)
        if not (source / models.META_FILE).is_file():
            raise ConfigError(f"{source} is not a model directory: it has no {models.META_FILE}")
        files = sorted(p for p in source.rglob("*") if p.is_file() and p.name != models.META_FILE)
        # The version is the name it is published under (what every result will report).
        meta = json.loads((source / models.META_FILE).read_text())
        if meta.get("version") != version:
            meta = {**meta, "version": version, "built_as": meta.get("version")}
        meta_bytes = json.dumps(meta, indent=2, sort_keys=True).encode()
        total = len(meta_bytes)
        for path in files:
            data = path.read_bytes()
            total += len(data)
            self.backend.blobs.put(
                _blob_dir(app, version) + path.relative_to(source).as_posix(), data
            )
        # meta.json last: a half-published version is never complete in the store either.
        self.backend.blobs.put(_blob_dir(app, version) + models.META_FILE, meta_bytes)
        target = models.version_dir(self.backend.settings, app, version)
        if source.resolve() != target.resolve():
            _copy_version(source, target)
        (target / models.META_FILE).write_bytes(meta_bytes)
        now = self.backend.clock.now().isoformat()
        self.backend.documents.merge(
            registry_path(app),
            {
                "app": app,
                "versions": {version: {"added_at": now, "files": len(files) + 1, "bytes": total}},
            },
        )
        return next(v for v in self.versions(app) if v.version == version)

    def ensure_local(self, app: str, version: str) -> Path:
        """The directory of ``version`` on this machine, copied from the blob store if needed."""
        target = self.fetch_if_published(app, version)
        if target is None:
            raise models.ModelUnavailable(
                f"model {app}/{version} is neither built here nor published; "
                f"run `tributary train {app}` or `tributary models add {app} DIR`"
            )
        return target

    def fetch_if_published(self, app: str, version: str) -> Path | None:
        """Like :meth:`ensure_local`, but None when the store does not have it either."""
        target = models.version_dir(self.backend.settings, app, version)
        if (target / models.META_FILE).is_file():
            return target
        prefix = _blob_dir(app, version)
        names = [info.name for info in self.backend.blobs.list(prefix)]
        meta = prefix + models.META_FILE
        if meta not in names:
            return None
        staging = target.with_name(f".{version}.{uuid.uuid4().hex[:8]}.fetching")
        for name in names:
            if name == meta:
                continue
            path = staging / name[len(prefix) :]
            if not path.resolve().is_relative_to(staging.resolve()):
                raise models.ModelUnavailable(f"model file name {name!r} leaves its directory")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(self.backend.blobs.get(name))
        staging.mkdir(parents=True, exist_ok=True)
        (staging / models.META_FILE).write_bytes(self.backend.blobs.get(meta))
        try:
            staging.rename(target)
        except OSError:  # another worker fetched it first
            shutil.rmtree(staging, ignore_errors=True)
        return target

    def _forget(self, app: str) -> None:
        with self._lock:
            self._cache.pop(app, None)


def _copy_version(source: Path, target: Path) -> None:
    staging = target.with_name(f".{target.name}.adding")
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(source, staging, ignore=shutil.ignore_patterns(models.META_FILE))
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    shutil.copy2(source / models.META_FILE, target / models.META_FILE)


def _natural(version: str) -> tuple[Any, ...]:
    """v2 before v10: digits compare as numbers."""
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", version))


_registries: dict[int, ModelRegistry] = {}
_registries_lock = threading.Lock()


def registry_for(backend: Backend) -> ModelRegistry:
    """One registry (and one cache) per backend."""
    with _registries_lock:
        registry = _registries.get(id(backend))
        if registry is None or registry.backend is not backend:
            registry = ModelRegistry(backend)
            _registries[id(backend)] = registry
        return registry
