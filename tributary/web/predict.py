"""The synchronous predict the original service offered, and the warm-up.

``predict`` runs an app's three stages in this process on one uploaded object
and returns the result, without a job document or a message: the caller waits
for the answer in the response. The object must be one of the caller's own
uploads (``uploads/{uid}/{app}/{job_id}.{ext}``), which also names the app.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from tributary.apps import StageContext, app_names, get_app
from tributary.backend import Backend
from tributary.errors import NotFound, PermanentError
from tributary.intake import blob_input, parse_upload_name
from tributary.logs import for_job
from tributary.registry import registry_for
from tributary.stage_files import input_reader


class Forbidden(PermanentError):
    code = "forbidden"


def predict(backend: Backend, name: str, uid: str) -> dict[str, Any]:
    """Preprocess, infer and look up one uploaded object; the result and per-stage times."""
    settings = backend.settings
    upload = parse_upload_name(name, settings.uploads_prefix)
    if upload.uid != uid:
        raise Forbidden(f"{name!r} is not one of your uploads")
    info = backend.blobs.stat(name)
    if info is None:
        raise NotFound(f"no object {name!r} in bucket {backend.blobs.bucket}")
    if info.size > settings.max_upload_bytes:
        raise PermanentError(
            f"{name!r} is {info.size} bytes; the limit is {settings.max_upload_bytes}",
            code="too_large",
        )
    app = get_app(upload.app, settings)
    job_input = blob_input(info)
    ctx = StageContext(
        job_id=upload.job_id,
        settings=settings,
        read_blob=input_reader(backend.blobs),
        log=for_job(upload.job_id, app=app.name, stage="predict"),
        model_version=_served_version(backend, app.name),
    )
    timings: dict[str, float] = {}
    features = _timed(timings, "preprocess", lambda: app.preprocess(job_input, ctx))
    prediction = _timed(timings, "inference", lambda: app.infer(features, ctx))
    result = _timed(timings, "lookup", lambda: app.lookup(prediction, ctx))
    return {"name": name, "app": app.name, "result": result, "ms": timings}


def warm(backend: Backend, names: list[str] | None = None) -> dict[str, Any]:
    """Load the models of ``names`` (every registered app by default) into this process.

    Answers the model version each app now serves and how long loading it took.
    """
    timings: dict[str, float] = {}
    versions: dict[str, str] = {}
    for name in names or app_names():
        app = get_app(name, backend.settings)
        version = _served_version(backend, name)
        _timed(timings, name, lambda app=app, version=version: app.warm(version))
        versions[name] = version or app.model_info().version
    return {"warmed": versions, "ms": timings}


def _served_version(backend: Backend, app: str) -> str | None:
    """The version the registry makes active (fetched here if this instance lacks it)."""
    registry = registry_for(backend)
    version = registry.active(app)
    if version is not None:
        registry.fetch_if_published(app, version)
    return version


def _timed(timings: dict[str, float], name: str, step: Callable[[], Any]) -> Any:
    started = time.perf_counter()
    value = step()
    timings[name] = round((time.perf_counter() - started) * 1000, 3)
    return value
