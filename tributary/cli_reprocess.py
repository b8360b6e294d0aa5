"""``tributary models | replay | backfill``: model versions and reprocessing.

Like ``submit``, these work with or without a running ``dev`` stack: without
one, on the embedded backend, the pipeline runs in this process for as long as
the command waits. With ``TRIBUTARY_BACKEND=gcp`` they act on the deployment,
whose functions do the work.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from schemas import format_timestamp
from tributary import backfill, reprocess
from tributary.apps import app_names
from tributary.backend import Backend, open_backend
from tributary.config import Settings
from tributary.devstack import running_stack
from tributary.errors import ConfigError
from tributary.registry import registry_for
from tributary.replay import Selection, plan
from tributary.runner import Runner
from tributary.topology import STAGES

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_TIMEOUT = 0, 1, 2, 3


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


@contextlib.contextmanager
def _pipeline(settings: Settings, *, run_here: bool = True) -> Iterator[Backend]:
    """The backend, with the pipeline running in-process unless something else runs it.

    On Google Cloud the deployed functions run it (their subscriptions push); locally
    a running ``dev`` stack does.
    """
    backend = open_backend(settings)
    runner = None
    if run_here and settings.backend == "local" and running_stack(settings) is None:
        runner = Runner(backend, watchdog_enabled=False).start()
    try:
        yield backend
    finally:
        if runner is not None:
            runner.stop()
        backend.close()


# -- models ----------------------------------------------------------------------


def cmd_models(settings: Settings, args: argparse.Namespace) -> int:
    backend = open_backend(settings)
    registry = registry_for(backend)
    try:
        if args.action == "list":
            for app in [args.app] if args.app else app_names():
                for info in registry.versions(app):
                    where = ",".join(
                        w for w, on in (("local", info.local), ("published", info.published)) if on
                    )
                    marker = "active" if info.active else ""
                    print(f"{app}\t{info.version}\t{marker}\t{where}\t{info.added_at or ''}")
            return EXIT_OK
        if not args.app:
            _say(f"error: `tributary models {args.action}` needs an APP")
            return EXIT_USAGE
        if args.action == "promote":
            if not args.version:
                _say("error: `tributary models promote APP VERSION`")
                return EXIT_USAGE
            previous = registry.promote(args.app, args.version)
            _say(f"{args.app}: {args.version} is active (was {previous or 'none'})")
        elif args.action == "rollback":
            target = registry.rollback(args.app)
            _say(f"{args.app}: rolled back to {target}")
        elif args.action == "add":
            if not args.path or not args.version:
                _say("error: `tributary models add APP VERSION --path DIR`")
                return EXIT_USAGE
            info = registry.add(args.app, Path(args.path), args.version)
            _say(f"{args.app}: added {info.version} (not active; `models promote` serves it)")
        return EXIT_OK
    finally:
        backend.close()


# -- replay ----------------------------------------------------------------------


def parse_moment(text: str, now: datetime) -> datetime:
    """An ISO time (UTC unless it says otherwise), or an age like 90m, 36h, 7d before now."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    if text[-1:] in units and text[:-1].isdigit():
        return now - timedelta(seconds=int(text[:-1]) * units[text[-1]])
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ConfigError(f"{text!r} is neither an ISO time nor an age like 36h or 7d") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_when(text: str | None, now: datetime) -> str | None:
    """:func:`parse_moment` as a stored timestamp (jobs compare them as strings)."""
    return format_timestamp(parse_moment(text, now)) if text else None


def _selection(args: argparse.Namespace) -> Selection:
    now = datetime.now(UTC)
    states = ("failed",) if args.failed else tuple(args.state or ("succeeded", "failed"))
    return Selection(
        app=args.app,
        since=parse_when(args.since, now),
        until=parse_when(args.until, now),
        states=states,
        older_than=args.older_than,
        stale=args.stale,
        limit=args.limit,
    )


def cmd_replay(settings: Settings, args: argparse.Namespace) -> int:
    if args.seek or args.snapshot:
        return _seek(settings, args)
    selection = _selection(args)
    if args.dry_run:
        backend = open_backend(settings)
        counts = plan(backend, selection)
        backend.close()
        for (app, state, version), n in sorted(counts.items()):
            print(f"{app}\t{state}\t{version}\t{n}")
        _say(f"{sum(counts.values())} jobs would run again (dry run: nothing changed)")
        return EXIT_OK
    with _pipeline(settings, run_here=not args.no_wait) as backend:
        checkpoint, resumed = reprocess.open_checkpoint(
            backend, selection, resume=args.resume, fresh=args.fresh
        )
        how = "resuming" if resumed else "starting"
        _say(
            f"{how} replay {checkpoint.replay_id} (`--resume {checkpoint.replay_id}` continues it)"
        )
        reprocess.publish(backend, checkpoint, rate=args.rate)
        if args.no_wait:
            _say("restarted; the running workers process them (`tributary jobs` shows progress)")
            return EXIT_OK
        finished = reprocess.wait(backend, checkpoint, timeout=args.timeout)
        summary = reprocess.summarize(backend, checkpoint)
        reprocess.finish(backend, checkpoint, summary)
    for line in summary.lines():
        _say(line)
    print(json.dumps(summary.to_dict(), indent=2, sort_keys=True))
    return EXIT_OK if finished else EXIT_TIMEOUT


def _seek(settings: Settings, args: argparse.Namespace) -> int:
    subscription = args.subscription or STAGES[0].subscription
    with _pipeline(settings, run_here=bool(args.seek) and not args.no_wait) as backend:
        if args.snapshot:
            backend.bus.create_snapshot(args.snapshot, subscription)
            _say(f"snapshot {args.snapshot} of {subscription} taken; `replay --seek` returns to it")
            return EXIT_OK
        try:
            moment: datetime | None = parse_moment(args.seek, datetime.now(UTC))
        except ConfigError:
            moment = None  # not a time: the name of a snapshot
        if moment is not None:
            count: Any = backend.bus.seek(subscription, moment)
        else:
            count = backend.bus.seek_to_snapshot(subscription, args.seek)
        known = isinstance(count, int) and count >= 0
        _say(
            f"{subscription} rewound to {args.seek}: "
            + (f"{count} messages redelivered" if known else "messages redelivered")
            + "; jobs whose model changed run again, the rest are duplicates"
        )
        backlog = getattr(backend.bus, "backlog", None)
        if args.no_wait or settings.backend != "local" or backlog is None:
            return EXIT_OK
        # The embedded backend: wait until every stage has drained what the seek let in.
        deadline = time.monotonic() + args.timeout
        while any(backlog(route.subscription) for route in STAGES):
            if time.monotonic() > deadline:
                _say(
                    f"error: the redelivered messages were not all handled in {args.timeout:.0f} s"
                )
                return EXIT_TIMEOUT
            time.sleep(0.2)
        _say("every redelivered message handled (`tributary jobs` shows the new runs)")
        return EXIT_OK


# -- backfill --------------------------------------------------------------------


def cmd_backfill(settings: Settings, args: argparse.Namespace) -> int:
    prefix = args.prefix if args.prefix is not None else settings.uploads_prefix
    backend = open_backend(settings)
    try:
        job = backfill.open_backfill(backend, prefix, args.app, fresh=args.fresh)
        if job.cursor:
            _say(f"resuming the backfill of {prefix!r} after {job.cursor!r}")
        done = backfill.run_backfill(backend, job, chunk=args.chunk)
    finally:
        backend.close()
    counts = done.counts
    _say(
        f"backfill of {prefix!r}: {counts['created']} jobs created, {counts['existing']} existed, "
        f"{counts['failed']} refused, {counts['skipped']} skipped (names without an app; use --app)"
    )
    print(json.dumps(dict(counts), sort_keys=True))
    return EXIT_OK if not counts["failed"] else EXIT_FAILED


# -- parsers ---------------------------------------------------------------------


def add_parsers(sub: Any) -> None:
    models = sub.add_parser("models", help="model versions: list | add | promote | rollback")
    models.add_argument("action", nargs="?", choices=["list", "add", "promote", "rollback"])
    models.add_argument("app", nargs="?", choices=app_names())
    models.add_argument("version", nargs="?")
    models.add_argument("--path", help="for add: a model directory (with meta.json)")
    models.set_defaults(func=cmd_models, action="list")

    replay = sub.add_parser("replay", help="run selected jobs again as run + 1 (or --seek)")
    replay.add_argument("--app", choices=app_names())
    replay.add_argument("--since", help="created at or after: ISO time or an age (36h, 7d)")
    replay.add_argument("--until", help="created before: ISO time or an age")
    replay.add_argument("--state", action="append", choices=["succeeded", "failed"])
    replay.add_argument("--failed", action="store_true", help="failed jobs only")
    replay.add_argument("--older-than", metavar="VERSION", help="jobs run on a version before it")
    replay.add_argument("--stale", action="store_true", help="jobs not on the active version")
    replay.add_argument("--limit", type=int)
    replay.add_argument(
        "--rate", type=float, default=0, help="jobs restarted per second (0: no cap)"
    )
    replay.add_argument("--dry-run", action="store_true", help="only count what would run")
    replay.add_argument("--resume", metavar="ID", help="continue an interrupted replay")
    replay.add_argument("--fresh", action="store_true", help="do not resume an unfinished replay")
    replay.add_argument("--no-wait", action="store_true", help="restart and return at once")
    replay.add_argument("--timeout", type=float, default=3600.0)
    replay.add_argument("--seek", metavar="TIME|SNAPSHOT", help="rewind the jobs subscription")
    replay.add_argument("--snapshot", metavar="NAME", help="take a snapshot to --seek to later")
    replay.add_argument(
        "--subscription",
        help="for --seek/--snapshot: the jobs subscription (on Google Cloud, Eventarc names it)",
    )
    replay.set_defaults(func=cmd_replay)

    fill = sub.add_parser("backfill", help="create jobs for objects already in the bucket")
    fill.add_argument("--prefix", help="object name prefix (default: the uploads prefix)")
    fill.add_argument("--app", choices=app_names(), help="app for objects whose name has none")
    fill.add_argument("--chunk", type=int, default=100, help="objects per checkpoint")
    fill.add_argument("--fresh", action="store_true", help="start over instead of resuming")
    fill.set_defaults(func=cmd_backfill)
