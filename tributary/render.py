"""Human-readable output for the command line: live progress and job tables."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TextIO

STAGE_ORDER = ("preprocess", "inference", "lookup")


def summary(document: dict[str, Any]) -> str:
    """A one-phrase outcome: the label, or the error code."""
    result = document.get("result") or {}
    error = document.get("error") or {}
    if error:
        return f"{error.get('code')}: {error.get('message')}"
    if "label" in result:
        confidence = result.get("confidence")
        pct = f" ({confidence * 100:.1f}%)" if isinstance(confidence, int | float) else ""
        return f"{result['label']}{pct}"
    return ""


def stage_ms(document: dict[str, Any], stage: str) -> str:
    record = (document.get("stages") or {}).get(stage) or {}
    if record.get("run") != document.get("run") or record.get("ms") is None:
        return "-"
    return f"{record['ms']:.1f}"


def progress_printer(stream: TextIO) -> Callable[[dict[str, Any]], None]:
    """Print one line per visible change: a new state or a newly finished stage."""
    started = time.monotonic()
    seen: set[tuple[str, ...]] = set()

    def on_change(document: dict[str, Any]) -> None:
        job = str(document.get("job_id", ""))[:8]
        state = str(document.get("state"))
        finished = tuple(s for s in STAGE_ORDER if stage_ms(document, s) != "-")
        key = (state, *finished)
        if key in seen:
            return
        seen.add(key)
        timings = "  ".join(f"{s} {stage_ms(document, s)} ms" for s in finished)
        outcome = summary(document) if state in ("succeeded", "failed") else ""
        line = f"[{time.monotonic() - started:6.2f}s] {job} {state:<13} {timings}"
        if outcome:
            line += f"  → {outcome}"
        print(line.rstrip(), file=stream, flush=True)

    return on_change


def jobs_table(documents: list[dict[str, Any]]) -> str:
    header = ("JOB", "APP", "STATE", "CREATED", "PRE ms", "INF ms", "LOOK ms", "RESULT")
    rows = [header]
    for doc in documents:
        created = str(doc.get("created_at", ""))[:19].replace("T", " ")
        rows.append(
            (
                str(doc.get("job_id", "")),
                str(doc.get("app", "")),
                str(doc.get("state", "")),
                created,
                stage_ms(doc, "preprocess"),
                stage_ms(doc, "inference"),
                stage_ms(doc, "lookup"),
                summary(doc)[:60],
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row[:-1], widths, strict=True)) + "  " + row[-1]
        for row in rows
    ]
    return "\n".join(line.rstrip() for line in lines)


def dead_letters_table(records: list[dict[str, Any]]) -> str:
    if not records:
        return "no dead letters"
    lines = [
        "ID                                SUBSCRIPTION           ATTEMPTS  JOB                                   STATUS"
    ]
    for rec in records:
        lines.append(
            f"{rec.get('id', ''):<34}{rec.get('subscription', ''):<23}{rec.get('attempts', ''):<10}"
            f"{rec.get('job_id') or '-':<38}{rec.get('status', '')}"
        )
    return "\n".join(lines)
