"""The local development stack: backend, triggers, workers and API in one process.

``tributary dev`` writes ``<data_dir>/dev.json`` while it runs, so other
commands (``tributary submit``) on the same data directory use it instead of
starting a pipeline of their own.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tributary import models
from tributary.api import ApiServer
from tributary.apps import REGISTRY, get_app
from tributary.backend import open_backend
from tributary.config import Settings
from tributary.runner import Runner

_log = logging.getLogger("tributary.dev")
STATE_FILE = "dev.json"
# Apps whose model the stack builds on first start when none is built yet.
BUNDLED_MODELS = ("cough", "text2brain")


def _state_path(settings: Settings) -> Path:
    return settings.data_dir / STATE_FILE


def running_stack(settings: Settings) -> dict[str, Any] | None:
    """The dev stack serving this data directory, if one is alive.

    Its ``env`` holds the ``TRIBUTARY_*`` settings of its backend (the emulators'
    addresses), so other commands reach the same backend.
    """
    try:
        state: dict[str, Any] = json.loads(_state_path(settings).read_text())
        os.kill(int(state["pid"]), 0)
    except (OSError, ValueError, KeyError):
        return None
    return state


def train_module(app: str) -> Any:
    target = REGISTRY.get(app)
    if target is None:
        raise KeyError(app)
    package = target.split(":")[0].rsplit(".", 1)[0]
    return importlib.import_module(f"{package}.train")


def ensure_models(
    settings: Settings, progress: Callable[[str], None], apps: tuple[str, ...] = BUNDLED_MODELS
) -> None:
    """Build the bundled models among ``apps`` that are missing (deterministic; about a minute)."""
    for app in (a for a in apps if a in BUNDLED_MODELS):
        if models.current_version(settings, app) is None:
            progress(f"no {app} model built yet: training it now (once)…")
            ref = train_module(app).train(settings, version="v1", progress=progress)
            progress(f"built model {ref.name}/{ref.version}")


def _warm_bundled(settings: Settings) -> None:
    """Load models now, not on the first request."""
    for app in BUNDLED_MODELS:
        if models.current_version(settings, app) is not None:
            get_app(app, settings).warm()


def _until_signalled() -> None:
    """Block until SIGINT or SIGTERM."""
    stop = threading.Event()

    def _on_signal(signum: int, _frame: object) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        while not stop.wait(0.5):
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _spawn_workers(
    settings: Settings, count: int, backend_env: dict[str, str]
) -> list[subprocess.Popen[bytes]]:
    """Extra worker processes on the same backend: one per core scales CPU-bound stages."""
    env = {**os.environ, **backend_env, "TRIBUTARY_DATA_DIR": str(settings.data_dir.resolve())}
    if settings.models_dir is not None:
        env["TRIBUTARY_MODELS_DIR"] = str(settings.models_dir.resolve())
    command = [sys.executable, "-m", "tributary.cli", "worker"]
    return [subprocess.Popen(command, env=env) for _ in range(count)]


def run_worker(settings: Settings, *, progress: Callable[[str], None]) -> None:
    """Consume every subscription (no API) until SIGINT/SIGTERM."""
    backend = open_backend(settings)
    _warm_bundled(settings)
    runner = Runner(backend).start()
    try:
        _until_signalled()
    finally:
        runner.stop()
        backend.close()


def run_dev(
    settings: Settings,
    *,
    progress: Callable[[str], None],
    workers: int = 1,
    emulators: bool = False,
) -> None:
    """Run until SIGINT/SIGTERM, then stop cleanly (emulators included)."""
    ensure_models(settings, progress)
    stack = functions = runner = None
    if emulators:
        from tributary.emulators import start_emulator_backend
        from tributary.functions_stack import FunctionsStack

        progress("starting the Pub/Sub, Firestore and Cloud Storage emulators…")
        backend, stack = start_emulator_backend(settings)
        backend_env = {k: v for k, v in stack.env.items() if k.startswith("TRIBUTARY_")}
        backend_env["TRIBUTARY_BACKEND"] = "gcp"
        progress("starting the Cloud Functions under functions-framework, wired by push…")
        absolute = settings.with_overrides(
            data_dir=settings.data_dir.resolve(), models_dir=settings.model_root.resolve()
        )
        try:
            functions = FunctionsStack(stack, absolute, log_dir=settings.data_dir / "functions")
            functions.start()
        except BaseException:
            backend.close()
            stack.stop()
            raise
        extra: list[subprocess.Popen[bytes]] = []
    else:
        backend, backend_env = open_backend(settings), {}
        _warm_bundled(settings)
        runner = Runner(backend).start()
        extra = _spawn_workers(settings, max(0, workers - 1), backend_env)
    api = ApiServer(backend, settings.api_host, settings.api_port).start()
    state_path = _state_path(settings)
    state_path.write_text(json.dumps({"pid": os.getpid(), "api": api.url, "env": backend_env}))
    progress(f"Tributary dev stack ready — API listening on {api.url}")
    progress(f"web client: {api.url}/   (development mode: X-Dev-User names the caller)")
    where = "functions on the emulators" if emulators else f"{workers} worker process(es)"
    progress(f"data directory {settings.data_dir.resolve()}, {where}   (Ctrl-C stops everything)")
    try:
        _until_signalled()
    finally:
        progress("stopping: finishing in-flight work…")
        api.stop()
        for process in extra:
            process.send_signal(signal.SIGTERM)
        if runner is not None:
            runner.stop()
        if functions is not None:
            functions.stop()
        for process in extra:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        state_path.unlink(missing_ok=True)
        backend.close()
        if stack is not None:
            stack.stop()
        progress("stopped")
