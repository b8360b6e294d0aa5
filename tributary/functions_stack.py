"""The Cloud Functions of ``main.py``, run locally on an :class:`EmulatorStack`, wired as deployed.

One Functions Framework process per function, each in a process group of its own
on 127.0.0.1 and a free port, with a deployed function's settings
(``TRIBUTARY_BACKEND=gcp``, the emulator hosts, the models directory). Each
topology subscription becomes a Pub/Sub *push* subscription to its function, as
Eventarc makes them: same names, same dead-letter policy, one per topic, so a
message reaches exactly one consumer (a pull subscription of that name is turned
into a push one; the adapter's provisioning leaves push configs alone).

Emulator gaps, and the bridges:

- Storage sends no notifications: the gcp BlobStore adapter publishes
  ``OBJECT_FINALIZE`` on ``tributary-uploads``, pushed to ``on_upload``.
- Firestore delivers document triggers only to a host named when it starts
  (``--functions_emulator``), which :class:`EmulatorStack` does not set. The
  adapter's document-created message on ``tributary-queries`` is pushed to a relay
  (:mod:`tributary.query_relay`) that re-sends it to ``on_query`` in the Firestore
  emulator's trigger form.
- There is no Cloud Scheduler: a thread (:mod:`tributary.scheduler`) POSTs to each
  scheduled function (the watchdog) every ``watchdog_interval_s``, at least a second.
- Pub/Sub push requests carry no ``deliveryAttempt`` (the stage harness then
  counts attempts as claims on the job document), and a failed push returns after
  about a second whatever the retry policy, so subscriptions get none (as in
  ``adapters.gcp.bus``). The dead-letter policy does apply to push.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import fields
from pathlib import Path

from tributary.adapters.gcp import clients
from tributary.adapters.gcp.bus import PubSubBus
from tributary.config import Settings
from tributary.emulators import EmulatorStack
from tributary.emulators_process import (
    EmulatorError,
    free_port,
    signal_group,
    wait_port_closed,
)
from tributary.functions import TRIGGERS
from tributary.query_relay import QueryRelay
from tributary.scheduler import Scheduler
from tributary.topology import ALL_TOPICS, TOPIC_QUERIES, TOPIC_UPLOADS, subscriptions

_log = logging.getLogger("tributary.functions_stack")

ROOT = Path(__file__).resolve().parents[1]
MAIN = ROOT / "main.py"
START_TIMEOUT_S = 60.0
# The function each topic is pushed to: the topic triggers, plus the two emulator bridges.
PUSHED_TO: dict[str, str] = {
    TOPIC_UPLOADS: "on_upload",
    TOPIC_QUERIES: "on_query",
    **{t.resource: name for name, t in TRIGGERS.items() if t.kind == "topic" and t.resource},
}
# ``python -m functions_framework ARGS`` that first asks for SIGTERM when its parent
# dies (a killed test run leaves no function behind). The child does it itself: a
# preexec_fn would run Python between fork and exec, where gRPC's fork handlers (in a
# parent that already used gRPC) now and then kill the child before it starts.
_LAUNCHER = """
import os, runpy, signal, sys
if sys.platform.startswith("linux"):
    import ctypes
    ctypes.CDLL("libc.so.6").prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
if os.getppid() != int(sys.argv.pop(1)):
    sys.exit("the process that started this function is gone")
runpy.run_module("functions_framework", run_name="__main__", alter_sys=True)
"""
EVENT_FUNCTIONS: tuple[str, ...] = tuple(dict.fromkeys(PUSHED_TO.values()))
# Functions Cloud Scheduler calls (the watchdog); here a local scheduler thread does.
SCHEDULED_FUNCTIONS: tuple[str, ...] = tuple(
    name for name, trigger in TRIGGERS.items() if trigger.kind == "schedule"
)
# Cloud Scheduler's finest schedule is a minute; locally, the watchdog interval, at
# least a second (a sweep is a query on the Firestore emulator).
MIN_SCHEDULE_INTERVAL_S = 1.0


def settings_env(settings: Settings) -> dict[str, str]:
    """``settings`` as the ``TRIBUTARY_*`` variables that :func:`load_settings` reads back."""
    env: dict[str, str] = {}
    for field in fields(Settings):
        value = getattr(settings, field.name)
        if value is not None:
            text = ",".join(value) if isinstance(value, tuple) else str(value)
            env[f"TRIBUTARY_{field.name.upper()}"] = text
    return env


class FunctionProcess:
    """One function under the Functions Framework (gunicorn master and worker, one group)."""

    def __init__(
        self, name: str, port: int, env: dict[str, str], log_dir: Path, source: Path
    ) -> None:
        self.name, self.port, self._env, self._source = name, port, env, source
        self.log_path = log_dir / f"function-{name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def spawn(self) -> None:
        command = [sys.executable, "-c", _LAUNCHER, str(os.getpid()), f"--target={self.name}"]
        command += [f"--source={self._source}", "--host=127.0.0.1", f"--port={self.port}"]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
                env=self._env,
                start_new_session=True,
            )

    def wait_ready(self, timeout: float = START_TIMEOUT_S) -> None:
        """Until the server answers HTTP (any status: a GET is not an event it accepts)."""
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise EmulatorError(f"function {self.name} exited:\n{self._tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}robots.txt", timeout=1.0):
                    return
            except urllib.error.HTTPError:
                return
            except (urllib.error.URLError, OSError):
                time.sleep(0.1)
        raise EmulatorError(f"function {self.name} did not serve within {timeout:.0f} s")

    def stop(self, sig: signal.Signals = signal.SIGINT, grace: float = 2.0) -> None:
        """Signal the group (SIGINT: gunicorn's quick shutdown), then kill what lingers."""
        if self.process is None:
            return
        if self.process.poll() is None:
            signal_group(self.process.pid, sig)
            try:
                # gunicorn now and then misses a signal that comes as it starts a worker.
                self.process.wait(grace)
            except subprocess.TimeoutExpired:
                signal_group(self.process.pid, signal.SIGKILL)
                self.process.wait(10.0)
        signal_group(self.process.pid, signal.SIGKILL)  # a forked worker may outlive its master
        wait_port_closed(self.port, 10.0)

    def _tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:]) or "(no output)"


class FunctionsStack:
    """The functions of ``main.py`` on ``stack``, wired by push subscriptions and a scheduler."""

    def __init__(
        self,
        stack: EmulatorStack,
        settings: Settings,
        *,
        functions: tuple[str, ...] = EVENT_FUNCTIONS + SCHEDULED_FUNCTIONS,
        log_dir: Path | None = None,
        source: Path = MAIN,
    ) -> None:
        """``source`` is the file defining the functions (tests add their own apps there)."""
        overrides = stack.settings_overrides()
        if settings.gcp_project:
            overrides.pop("gcp_project")  # keep a project of its own (tests isolate by project)
        self.settings = settings.with_overrides(**overrides)
        self.project = self.settings.gcp_project
        self.log_dir = log_dir or Path(tempfile.mkdtemp(prefix="tributary-functions-"))
        self.log_dir.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **stack.env, **settings_env(self.settings)}
        env.update(GOOGLE_CLOUD_PROJECT=self.project, GCLOUD_PROJECT=self.project)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        self.env = env
        self._functions = {
            name: FunctionProcess(name, free_port(), env, self.log_dir, source)
            for name in functions
        }
        self._relay: QueryRelay | None = None
        self._schedulers: list[Scheduler] = []

    def url(self, function: str) -> str:
        """The URL ``function`` serves on."""
        return self._functions[function].url

    def start(self, timeout: float = START_TIMEOUT_S) -> FunctionsStack:
        """Start every function, wait until each serves, then subscribe them; stop all on failure."""
        try:
            for function in self._functions.values():
                function.spawn()
            for function in self._functions.values():
                function.wait_ready(timeout)
            if "on_query" in self._functions:
                self._relay = QueryRelay(self.url("on_query"), self.project)
            self.wire()
            self._schedule()
        except BaseException:
            self.stop()
            raise
        _log.info("functions serving: %s", {n: f.url for n, f in self._functions.items()})
        return self

    def wire(self) -> None:
        """Topics, and a push subscription per topic to its function (with the topology's policies)."""
        host = self.settings.pubsub_emulator_host
        bus = PubSubBus(self.project, emulator_host=host, retention_s=self.settings.retention_s)
        for topic in ALL_TOPICS:
            bus.create_topic(topic)
        subscriber = clients.subscriber(self.project, host)
        for config in subscriptions(self.settings):
            function = PUSHED_TO[config.topic]
            if function not in self._functions:
                continue
            endpoint = self._relay.url if function == "on_query" and self._relay else None
            bus.create_subscription(config)
            subscriber.modify_push_config(
                request={
                    "subscription": bus.subscription_path(config.name),
                    "push_config": {"push_endpoint": endpoint or self.url(function)},
                }
            )

    def _schedule(self) -> None:
        """Call each scheduled function periodically, as its Cloud Scheduler job does."""
        interval = max(self.settings.watchdog_interval_s, MIN_SCHEDULE_INTERVAL_S)
        for name in SCHEDULED_FUNCTIONS:
            if name in self._functions:
                self._schedulers.append(Scheduler(name, self.url(name), interval).start())

    def kill(self, function: str) -> None:
        """SIGKILL the function's processes (a crash mid-request)."""
        self._functions[function].stop(signal.SIGKILL)

    def restart(self, function: str, timeout: float = START_TIMEOUT_S) -> None:
        """Start the function again on the same port (its push endpoint)."""
        process = self._functions[function]
        process.stop()
        process.spawn()
        process.wait_ready(timeout)

    def stop(self) -> None:
        """Stop the schedulers, every function process group and the relay."""
        for scheduler in self._schedulers:
            scheduler.stop()
        self._schedulers.clear()
        for function in self._functions.values():
            function.stop()
        if self._relay is not None:
            self._relay.close()
            self._relay = None

    def __enter__(self) -> FunctionsStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
