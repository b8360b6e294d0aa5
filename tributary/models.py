"""Versioned model assets on disk: ``<model_root>/<app>/<version>/``.

A version directory is complete once it holds ``meta.json`` (written last, so a
half-written build is never served). ``<model_root>/<app>/current`` names the
version new jobs run with; promoting a version rewrites it atomically.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from tributary.config import Settings
from tributary.errors import PermanentError

META_FILE = "meta.json"
CURRENT_FILE = "current"
_VERSION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class ModelUnavailable(PermanentError):
    code = "model_unavailable"


def app_dir(settings: Settings, app: str) -> Path:
    return settings.model_root / app


def check_version(version: str) -> str:
    if not _VERSION_RE.match(version):
        raise ValueError(f"invalid model version {version!r}: letters, digits, '.', '_', '-'")
    return version


def version_dir(settings: Settings, app: str, version: str) -> Path:
    return app_dir(settings, app) / check_version(version)


def list_versions(settings: Settings, app: str) -> list[str]:
    root = app_dir(settings, app)
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / META_FILE).is_file())


def current_version(settings: Settings, app: str) -> str | None:
    """The promoted version, or None when nothing has been built."""
    pointer = app_dir(settings, app) / CURRENT_FILE
    if pointer.is_file():
        version = pointer.read_text().strip()
        if (version_dir(settings, app, version) / META_FILE).is_file():
            return version
    return None


def promote(settings: Settings, app: str, version: str) -> None:
    """Make ``version`` the one new jobs run with."""
    target = version_dir(settings, app, version)
    if not (target / META_FILE).is_file():
        raise ModelUnavailable(f"model {app}/{version} is not built (no {META_FILE} in {target})")
    pointer = app_dir(settings, app) / CURRENT_FILE
    tmp = pointer.with_suffix(".tmp")
    tmp.write_text(version + "\n")
    os.replace(tmp, pointer)


def write_meta(directory: Path, meta: dict[str, Any]) -> None:
    """Mark a version directory complete; call after every other file is written."""
    tmp = directory / (META_FILE + ".tmp")
    tmp.write_text(json.dumps(meta, indent=2, sort_keys=True))
    os.replace(tmp, directory / META_FILE)


def read_meta(settings: Settings, app: str, version: str) -> dict[str, Any]:
    path = version_dir(settings, app, version) / META_FILE
    try:
        meta: dict[str, Any] = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise ModelUnavailable(
            f"model {app}/{version} is not built; run `tributary train {app}`"
        ) from exc
    return meta


def resolve_version(settings: Settings, app: str) -> str:
    version = current_version(settings, app)
    if version is None:
        raise ModelUnavailable(f"no {app} model is built; run `tributary train {app}`")
    return version
