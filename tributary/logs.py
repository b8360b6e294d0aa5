"""Structured logging: every line carries the job id; every message lives here.

Handlers call ``event(log, "stage_claimed", stage=..., attempt=...)``; the text
comes from :data:`MESSAGES` and the fields travel as structured data (JSON in
production, ``key=value`` in a terminal).
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import MutableMapping
from typing import Any

MESSAGES: dict[str, str] = {
    "job_created": "job created for {app}",
    "job_exists": "job already exists; event ignored ({reason})",
    "event_ignored": "event ignored: {reason}",
    "stage_claimed": "{stage} started (attempt {attempt})",
    "stage_skipped": "{stage} skipped: {reason}",
    "stage_busy": "{stage} busy elsewhere, retry later: {reason}",
    "stage_finished": "{stage} finished in {ms:.1f} ms",
    "stage_lease_lost": "{stage} finished but its lease was taken over; result discarded",
    "stage_failed": "{stage} failed permanently: {code}: {message}",
    "stage_retry": "{stage} failed (attempt {attempt}), will retry: {error}",
    "stage_exhausted": "{stage} failed {attempt} times, giving up: {error}",
    "job_succeeded": "job succeeded",
    "api_job_submitted": "{via} job for {app} submitted over HTTP by {uid}",
    "api_rate_limited": "{uid} rate limited; retry in {retry_after} s",
    "upload_session_started": "resumable upload of {size} bytes for {app} started by {uid}",
    "api_stream_opened": "event stream opened by {uid}",
    "cache_hit": "answered from the results cache (asked {asked} times)",
    "bad_message": "unreadable message on {subscription}: {error}",
    "event_rejected": "{function} rejected an event ({code}): {error}",
    "dead_lettered": "message dead-lettered from {subscription} after {attempts} attempts",
    "requeued": "dead letter requeued to {topic} as run {run}",
    "replayed": "restarted by {origin}",
    "new_run": "redelivered after its model changed: starting run {run} ({origin})",
    "watchdog_restart": "no progress since {since}; restarted as run {run}",
    "watchdog_fail": "no progress after {recoveries} restarts; failed as stuck",
    "watchdog_swept": "watchdog sweep: {restarted} restarted, {failed} failed",
    "watchdog_unavailable": "watchdog sweep could not run ({code}): {error}",
    "schedule_failed": "scheduled call of {function} failed: {error}",
    "runner_started": "runner started with {threads} worker threads per subscription",
    "runner_stopping": "runner stopping; finishing in-flight work",
    "runner_stopped": "runner stopped",
    "handler_crashed": "handler crashed on {subscription}: {error}",
}

_RESERVED = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message"}


class JobAdapter(logging.LoggerAdapter[logging.Logger]):
    """Adds the adapter's fields (``job_id`` and friends) to every record."""

    def process(
        self, msg: Any, kwargs: MutableMapping[str, Any]
    ) -> tuple[Any, MutableMapping[str, Any]]:
        extra = dict(self.extra or {})
        extra.update(kwargs.get("extra") or {})
        kwargs["extra"] = extra
        return msg, kwargs


def for_job(job_id: str | None, logger: str = "tributary", **fields: Any) -> JobAdapter:
    return JobAdapter(logging.getLogger(logger), {"job_id": job_id, **fields})


def event(
    log: logging.LoggerAdapter[logging.Logger] | logging.Logger,
    name: str,
    level: int = logging.INFO,
    **fields: Any,
) -> None:
    """Log the message called ``name`` with ``fields`` as structured data."""
    text = MESSAGES[name].format(**fields)
    safe = {(k if k not in _RESERVED else f"f_{k}"): v for k, v in fields.items()}
    log.log(level, text, extra={"event": name, **safe})


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "severity": record.levelname,
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({k: v for k, v in record.__dict__.items() if k not in _RESERVED})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields = {k: v for k, v in record.__dict__.items() if k not in _RESERVED and v is not None}
        job = fields.pop("job_id", None)
        fields.pop("event", None)
        prefix = f"{self.formatTime(record, '%H:%M:%S')} {record.levelname:<7}"
        job_part = f" [{job[:8]}]" if isinstance(job, str) else ""
        extras = " ".join(f"{k}={v}" for k, v in sorted(fields.items()))
        line = f"{prefix}{job_part} {record.getMessage()}" + (f"  {extras}" if extras else "")
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def configure(level: str = "INFO", fmt: str = "text") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger("tributary")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False
