"""The results cache: a repeated query is answered without running the stages.

``cache/{app}/{model_version}/{key}`` holds a result and how often it was asked.
The key comes from the app (``App.cache_key``: Text2Brain hashes the normalized
query), the version from the model the result was made with, so promoting a new
model starts a fresh cache. Every ask counts exactly once, in the transaction
that settles its job: a hit when the job is created, a miss when its result is
recorded.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from schemas import format_timestamp
from tributary.ports import Transaction

COLLECTION = "cache"


def cache_path(app: str, version: str, key: str) -> str:
    return f"{COLLECTION}/{app}/{version}/{key}"


def count_hit(txn: Transaction, path: str, now: datetime) -> dict[str, Any] | None:
    """The cached result with this ask counted, or None on a miss."""
    entry = txn.get(path)
    if entry is None:
        return None
    count = int(entry.get("count", 0)) + 1
    txn.set(path, {**entry, "count": count, "last_asked_at": format_timestamp(now)})
    return _answer(entry["result"], hit=True, count=count)


def store(txn: Transaction, path: str, result: dict[str, Any], now: datetime) -> dict[str, Any]:
    """Record a freshly computed result (counting this ask); returns the job's result."""
    entry = txn.get(path)
    count = int(entry.get("count", 0)) + 1 if entry else 1
    stored = entry["result"] if entry else result
    txn.set(
        path,
        {
            "result": stored,
            "count": count,
            "created_at": entry.get("created_at") if entry else format_timestamp(now),
            "last_asked_at": format_timestamp(now),
        },
    )
    return _answer(result, hit=False, count=count)


def _answer(result: dict[str, Any], *, hit: bool, count: int) -> dict[str, Any]:
    return {**result, "cache": {"hit": hit, "asked": count}}
