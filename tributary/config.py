"""Settings: read from the environment here and nowhere else.

Every knob is a ``TRIBUTARY_*`` variable; :func:`load_settings` turns them into
one frozen object that is passed down explicitly.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, Literal

from tributary.errors import ConfigError
from tributary.ports import MAX_DELIVERY_ATTEMPTS, MIN_DELIVERY_ATTEMPTS

Backend = Literal["local", "gcp"]

PREFIX = "TRIBUTARY_"


@dataclass(frozen=True)
class Settings:
    """Everything configurable, with defaults that work on one laptop."""

    backend: Backend = "local"
    data_dir: Path = Path(".tributary")
    # Where trained models live; defaults to <data_dir>/models.
    models_dir: Path | None = None
    bucket: str = "tributary-uploads"
    uploads_prefix: str = "uploads/"
    # Bus behaviour (mirrors the Pub/Sub subscription settings we deploy).
    ack_deadline_s: float = 30.0
    max_delivery_attempts: int = 5
    min_backoff_s: float = 0.5
    max_backoff_s: float = 60.0
    retention_s: float = 7 * 24 * 3600.0
    # A stage lease as long as the ack deadline: a message redelivered after its
    # worker died finds the lease expired and takes the job over.
    lease_s: float = 30.0
    # A job that shows no progress for this long is restarted by the watchdog
    # (a lost message), and failed as ``stuck`` after max_delivery_attempts restarts.
    stuck_after_s: float = 600.0
    watchdog_interval_s: float = 5.0
    inline_payload_max_bytes: int = 64 * 1024
    # How long a worker trusts its copy of an app's active model version before
    # reading the registry document again (a promotion reaches running workers
    # within this many seconds, without a restart).
    model_refresh_s: float = 2.0
    # Input limits, enforced again in the worker (never trust the edge).
    max_upload_bytes: int = 10 * 1024 * 1024
    # Cough.
    cough_threshold: float = 0.8
    cough_min_seconds: float = 0.3
    cough_max_seconds: float = 30.0
    # HTTP API of the local stack.
    api_host: str = "127.0.0.1"
    api_port: int = 8080
    cors_origins: tuple[str, ...] = ()
    # Who calls the HTTP API: "firebase" verifies Firebase ID tokens (production);
    # "dev" trusts the X-Dev-User header, an explicit local development mode that
    # ``tributary dev`` turns on and that the gcp backend accepts only on emulators.
    auth: Literal["firebase", "dev"] = "firebase"
    # Per-user token bucket of the HTTP API (per process): a burst of this many
    # requests, refilled at this rate; 0 turns the limit off.
    rate_limit_per_minute: float = 120.0
    rate_limit_burst: int = 30
    # Resumable uploads: chunks at most this large; an unfinished session expires.
    upload_chunk_max_bytes: int = 4 * 1024 * 1024
    upload_session_ttl_s: float = 24 * 3600.0
    # The Firebase web app configuration handed to the page (production realtime).
    firebase_api_key: str = ""
    firebase_auth_domain: str = ""
    # Google Cloud (backend "gcp"). An empty project means the one Application
    # Default Credentials name. A non-empty emulator host points that service at an
    # emulator ("127.0.0.1:8085"; storage takes a URL, "http://127.0.0.1:9023") and
    # turns on the adapter's bridges for what the emulator lacks.
    gcp_project: str = ""
    pubsub_emulator_host: str = ""
    firestore_emulator_host: str = ""
    storage_emulator_host: str = ""
    log_format: Literal["text", "json"] = "text"
    log_level: str = "INFO"
    # Consumer threads per subscription in each worker process; 0 picks by backend.
    worker_threads: int = 0

    @property
    def model_root(self) -> Path:
        return self.models_dir if self.models_dir is not None else self.data_dir / "models"

    @property
    def threads_per_subscription(self) -> int:
        """``worker_threads``, or by backend: 1 on the embedded one, 2 on gcp.

        Stages are CPU work under one GIL per process, so throughput comes from one
        worker process per core. On the embedded backend a store call is tens of
        microseconds: a second thread per subscription had nothing to overlap and
        cost ~4 % of throughput in contention (bench/README.md). On gcp every call is
        a network round trip, which a second thread overlaps.
        """
        if self.worker_threads:
            return self.worker_threads
        return 1 if self.backend == "local" else 2

    def with_overrides(self, **changes: Any) -> Settings:
        return replace(self, **changes)


def _coerce(name: str, raw: str, annotation: str) -> Any:
    try:
        if "tuple" in annotation:
            return tuple(part.strip() for part in raw.split(",") if part.strip())
        if "Path" in annotation:
            return Path(raw).expanduser()
        if annotation == "int":
            return int(raw)
        if annotation == "float":
            return float(raw)
    except ValueError as exc:
        raise ConfigError(f"{PREFIX}{name.upper()}={raw!r} is not a valid {annotation}") from exc
    return raw


def load_settings(environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Build :class:`Settings` from ``TRIBUTARY_*`` variables plus explicit overrides."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    known = {f.name: f for f in fields(Settings)}
    for name, spec in known.items():
        raw = env.get(PREFIX + name.upper())
        if raw is not None and raw != "":
            values[name] = _coerce(name, raw, str(spec.type))
    values.update({k: v for k, v in overrides.items() if v is not None})
    settings = Settings(**values)
    _validate(settings)
    return settings


def _validate(settings: Settings) -> None:
    if settings.backend not in ("local", "gcp"):
        raise ConfigError(f"unknown backend {settings.backend!r}: use 'local' or 'gcp'")
    if not 0.0 < settings.cough_threshold <= 1.0:
        raise ConfigError("TRIBUTARY_COUGH_THRESHOLD must be in (0, 1]")
    if not MIN_DELIVERY_ATTEMPTS <= settings.max_delivery_attempts <= MAX_DELIVERY_ATTEMPTS:
        # Pub/Sub's bounds for a dead-letter policy; the embedded bus keeps them too.
        raise ConfigError(
            f"TRIBUTARY_MAX_DELIVERY_ATTEMPTS must be between {MIN_DELIVERY_ATTEMPTS} and"
            f" {MAX_DELIVERY_ATTEMPTS}, as on Pub/Sub"
        )
    if settings.worker_threads < 0:
        raise ConfigError("TRIBUTARY_WORKER_THREADS must be 0 (by backend) or more")
    if settings.log_format not in ("text", "json"):
        raise ConfigError("TRIBUTARY_LOG_FORMAT must be 'text' or 'json'")
    if settings.auth not in ("firebase", "dev"):
        raise ConfigError("TRIBUTARY_AUTH must be 'firebase' or 'dev'")
    if (
        settings.auth == "dev"
        and settings.backend == "gcp"
        and not settings.firestore_emulator_host
    ):
        raise ConfigError(
            "TRIBUTARY_AUTH=dev trusts any caller: it is for the local backend and the emulators only"
        )
