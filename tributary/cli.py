"""The ``tributary`` command.

Progress and errors go to stderr; documents (JSON) go to stdout, so scripts can
pipe them. Exit status: 0 success, 1 the job failed, 2 bad usage or an error
before any job ran, 3 timed out waiting.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tributary import cli_reprocess, client, deadletters, jobs, logs, models
from tributary.apps import app_names
from tributary.backend import open_backend
from tributary.config import Settings, load_settings
from tributary.devstack import ensure_models, run_dev, run_worker, running_stack, train_module
from tributary.errors import TributaryError
from tributary.registry import registry_for
from tributary.render import dead_letters_table, jobs_table, progress_printer
from tributary.runner import Runner
from tributary.topology import JOBS_COLLECTION
from tributary.web.predict import warm

EXIT_OK, EXIT_JOB_FAILED, EXIT_USAGE, EXIT_TIMEOUT = 0, 1, 2, 3


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _print_json(document: Any) -> None:
    print(json.dumps(document, indent=2, sort_keys=True))


def cmd_dev(settings: Settings, args: argparse.Namespace) -> int:
    run_dev(settings, progress=_say, workers=args.workers, emulators=args.backend == "emulators")
    return EXIT_OK


def cmd_worker(settings: Settings, args: argparse.Namespace) -> int:
    run_worker(settings, progress=_say)
    return EXIT_OK


def cmd_submit(settings: Settings, args: argparse.Namespace) -> int:
    if (args.file is None) == (args.text is None):
        _say("error: give a FILE to upload or --text for a query (one of them)")
        return EXIT_USAGE
    stack = running_stack(settings)
    if stack is None:
        ensure_models(settings, _say, apps=(args.app,))
    backend = open_backend(settings)
    runner = None if stack else Runner(backend, watchdog_enabled=False).start()
    try:
        if args.file is not None:
            path = Path(args.file)
            job_id = client.submit_file(
                backend, path.read_bytes(), app=args.app, filename=path.name, uid=args.uid
            )
        else:
            job_id = client.submit_text(backend, args.text, app=args.app, uid=args.uid)
        if stack is not None and not args.follow:
            _say(f"submitted job {job_id} to the dev stack at {stack.get('api')}")
            print(job_id)
            return EXIT_OK
        on_change = progress_printer(sys.stderr) if args.follow else None
        document = client.follow(backend, job_id, timeout=args.timeout, on_change=on_change)
    finally:
        if runner is not None:
            runner.stop()
        backend.close()
    if document is None:
        _say(f"error: job {job_id} did not finish within {args.timeout:.0f} s")
        return EXIT_TIMEOUT
    _print_json(document)
    return EXIT_OK if document["state"] == "succeeded" else EXIT_JOB_FAILED


def cmd_jobs(settings: Settings, args: argparse.Namespace) -> int:
    backend = open_backend(settings)
    where = []
    if args.state:
        where.append(("state", "==", args.state))
    if args.app:
        where.append(("app", "==", args.app))
    rows = backend.documents.query(
        JOBS_COLLECTION, where=where, order_by="created_at", descending=True, limit=args.limit
    )
    documents = [doc for _id, doc in rows if "state" in doc]
    if args.json:
        _print_json(documents)
    else:
        print(jobs_table(documents) if documents else "no jobs yet")
    return EXIT_OK


def cmd_job(settings: Settings, args: argparse.Namespace) -> int:
    document = open_backend(settings).documents.get(jobs.job_path(args.job_id))
    if document is None:
        _say(f"error: not_found: no job {args.job_id}")
        return EXIT_USAGE
    _print_json(document)
    return EXIT_OK


def cmd_dlq(settings: Settings, args: argparse.Namespace) -> int:
    backend = open_backend(settings)
    if args.action == "requeue":
        if not args.id:
            _say("error: `tributary dlq requeue ID` needs the ID that `tributary dlq` lists")
            return EXIT_USAGE
        record = deadletters.requeue(backend, args.id)
        _say(
            f"requeued {args.id} to {record['topic']}"
            + (f" as run {record['run']}" if record["run"] else "")
        )
        return EXIT_OK
    records = deadletters.list_dead_letters(backend, include_requeued=args.all)
    if args.json:
        _print_json(records)
    else:
        print(dead_letters_table(records))
    return EXIT_OK


def cmd_train(settings: Settings, args: argparse.Namespace) -> int:
    version = args.version or _next_version(settings, args.app)
    ref = train_module(args.app).train(
        settings,
        version=version,
        data_dir=args.data,
        seed=args.seed,
        promote=False,
        progress=_say,
    )
    if not args.no_promote:
        backend = open_backend(settings)
        try:
            registry_for(backend).promote(args.app, version)
        finally:
            backend.close()
    _say(f"trained {ref.name}/{ref.version}" + ("" if args.no_promote else " and promoted it"))
    return EXIT_OK


def cmd_warm(settings: Settings, args: argparse.Namespace) -> int:
    backend = open_backend(settings)
    try:
        registry = registry_for(backend)
        names = [args.app] if args.app else [a for a in app_names() if registry.active(a)]
        answer = warm(backend, names)
    finally:
        backend.close()
    for app, version in answer["warmed"].items():
        _say(f"{app}: model {version} loaded in {answer['ms'][app]:.0f} ms")
    return EXIT_OK


def _next_version(settings: Settings, app: str) -> str:
    numbers = [
        int(v[1:]) for v in models.list_versions(settings, app) if v[1:].isdigit() and v[0] == "v"
    ]
    return f"v{max(numbers, default=0) + 1}"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tributary", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data-dir", type=Path, help="data directory (default: $TRIBUTARY_DATA_DIR or .tributary)"
    )
    parser.add_argument("--log-level", help="DEBUG, INFO, WARNING (default: WARNING; INFO for dev)")
    sub = parser.add_subparsers(dest="command", required=True)

    dev = sub.add_parser("dev", help="run the local stack: workers, triggers and the HTTP API")
    dev.add_argument("--host", help="API host (default 127.0.0.1)")
    dev.add_argument("--port", type=int, help="API port (default 8080; 0 picks a free one)")
    dev.add_argument(
        "--backend",
        choices=["local", "emulators"],
        default="local",
        help="local: the embedded backend (default); emulators: start the Google Cloud emulators",
    )
    dev.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes (default 1; for throughput, one per core plus one)",
    )
    dev.set_defaults(func=cmd_dev)

    worker = sub.add_parser(
        "worker", help="run the triggers and workers only (no API), e.g. one per core plus one"
    )
    worker.set_defaults(func=cmd_worker)

    submit = sub.add_parser("submit", help="submit a file (or --text) and wait for its result")
    submit.add_argument("file", nargs="?", help="the file to upload")
    submit.add_argument("--text", help="a text query instead of a file")
    submit.add_argument("--app", required=True, choices=app_names())
    submit.add_argument(
        "--follow", action="store_true", help="show the job's progress live on stderr"
    )
    submit.add_argument("--uid", default="local", help="user id to submit as (default: local)")
    submit.add_argument(
        "--timeout", type=float, default=120.0, help="seconds to wait (default 120)"
    )
    submit.set_defaults(func=cmd_submit)

    jobs_cmd = sub.add_parser("jobs", help="list recent jobs with state and per-stage timings")
    jobs_cmd.add_argument("--limit", type=int, default=20)
    jobs_cmd.add_argument("--state", choices=[*jobs.ACTIVE_STATES, *sorted(jobs.TERMINAL_STATES)])
    jobs_cmd.add_argument("--app")
    jobs_cmd.add_argument("--json", action="store_true")
    jobs_cmd.set_defaults(func=cmd_jobs)

    job = sub.add_parser("job", help="print one job document as JSON")
    job.add_argument("job_id")
    job.set_defaults(func=cmd_job)

    dlq = sub.add_parser("dlq", help="list dead letters; `dlq requeue ID` puts one back")
    dlq.add_argument("action", nargs="?", choices=["list", "requeue"], default="list")
    dlq.add_argument("id", nargs="?")
    dlq.add_argument("--all", action="store_true", help="include requeued ones")
    dlq.add_argument("--json", action="store_true")
    dlq.set_defaults(func=cmd_dlq)

    train = sub.add_parser("train", help="train an app's model and promote it")
    train.add_argument("app", choices=app_names())
    train.add_argument("--version", help="version name (default: the next vN)")
    train.add_argument("--data", type=Path, help="a folder of your recordings with labels.csv")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument(
        "--no-promote", action="store_true", help="build it but keep serving the current one"
    )
    train.set_defaults(func=cmd_train)

    cli_reprocess.add_parsers(sub)

    warm = sub.add_parser("warm", help="load models now, to check they are built and loadable")
    warm.add_argument("--app", choices=app_names())
    warm.set_defaults(func=cmd_warm)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    overrides: dict[str, Any] = {"data_dir": args.data_dir}
    if args.command == "dev":
        # The local stack is a development tool: its API trusts X-Dev-User, explicitly.
        overrides.update(api_host=args.host, api_port=args.port, auth="dev")
    try:
        settings = load_settings(**overrides)
        stack = running_stack(settings) if args.command != "dev" else None
        if stack and stack.get("env"):  # a dev stack on the emulators: reach the same backend
            settings = load_settings({**os.environ, **stack["env"]}, **overrides)
        default_level = "INFO" if args.command in ("dev", "worker") else "WARNING"
        logs.configure(args.log_level or default_level, settings.log_format)
        code: int = args.func(settings, args)
        return code
    except TributaryError as exc:
        _say(f"error: {exc.code}: {exc.message}")
        return EXIT_USAGE
    except KeyboardInterrupt:
        _say("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
