"""Start and stop the Google Cloud emulators as child processes.

Pub/Sub and Firestore come from the Google Cloud SDK (run as plain ``java``,
never through ``gcloud``, which leaves Java children behind when stopped);
Cloud Storage is the ``gcp-storage-emulator`` package. Each emulator runs in a
process group of its own on 127.0.0.1 and a free port, so ``stop()`` ends it
and everything it spawned.

``env`` is what another process needs to use an emulator: the variable the
client libraries read (``PUBSUB_EMULATOR_HOST=127.0.0.1:8123``,
``FIRESTORE_EMULATOR_HOST=127.0.0.1:8124``,
``STORAGE_EMULATOR_HOST=http://127.0.0.1:8125``; only the storage one carries a
scheme) plus the ``TRIBUTARY_*`` setting that points the gcp backend at it.

Start emulators from a long-lived thread (the main one): they are told to exit
when the thread that started them ends (see :mod:`tributary.emulators_process`).
"""

from __future__ import annotations

import glob
import logging
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tributary.config import Settings
from tributary.emulators_process import (
    START_TIMEOUT_S,
    Emulator,
    EmulatorError,
    free_port,
)
from tributary.errors import ConfigError

if TYPE_CHECKING:
    from tributary.backend import Backend

_log = logging.getLogger("tributary.emulators")

SDK_ROOT = Path(os.environ.get("CLOUDSDK_ROOT_DIR", "/usr/lib/google-cloud-sdk"))
PUBSUB_JARS = "platform/pubsub-emulator/lib/cloud-pubsub-emulator-*.jar"
FIRESTORE_JAR = "platform/cloud-firestore-emulator/cloud-firestore-emulator.jar"
# The project the emulators serve when none is given; any id works on an emulator.
DEFAULT_PROJECT = "tributary-dev"
# Small heaps: the emulators hold test data only, and CI machines have little memory.
_JVM_FLAGS = ("-Xms32m", "-Xmx512m", "-XX:+UseSerialGC", "-Duser.language=en")

__all__ = [
    "DEFAULT_PROJECT",
    "Emulator",
    "EmulatorError",
    "EmulatorStack",
    "free_port",
    "start_emulator_backend",
    "start_firestore",
    "start_pubsub",
    "start_storage",
]


def _java() -> str:
    java = shutil.which("java")
    if java is None:
        raise ConfigError("the Pub/Sub and Firestore emulators need Java (java not on PATH)")
    return java


def _sdk_file(pattern: str) -> str:
    matches = sorted(glob.glob(str(SDK_ROOT / pattern)))
    if not matches:
        raise ConfigError(
            f"no {pattern} under {SDK_ROOT}: install the Google Cloud SDK emulator components"
            " or set CLOUDSDK_ROOT_DIR"
        )
    return matches[-1]


def _log_dir(log_dir: Path | None) -> Path:
    if log_dir is not None:
        log_dir.mkdir(parents=True, exist_ok=True)
        return log_dir
    return Path(tempfile.mkdtemp(prefix="tributary-emulators-"))


def _pubsub(port: int, log_dir: Path) -> Emulator:
    command = [_java(), *_JVM_FLAGS, "-jar", _sdk_file(PUBSUB_JARS)]
    command += ["--host=127.0.0.1", f"--port={port}"]
    host_port = f"127.0.0.1:{port}"
    env = {"PUBSUB_EMULATOR_HOST": host_port, "TRIBUTARY_PUBSUB_EMULATOR_HOST": host_port}
    return Emulator("pubsub", command, port=port, ready_path="/", env=env, log_dir=log_dir)


def _firestore(port: int, log_dir: Path, rules: Path | None, project: str | None) -> Emulator:
    command = [_java(), *_JVM_FLAGS, "-cp", _sdk_file(FIRESTORE_JAR)]
    command += ["com.google.cloud.datastore.emulator.firestore.CloudFirestore"]
    command += ["--host", "127.0.0.1", "--port", str(port)]
    if rules is not None:
        command += ["--rules", str(Path(rules).resolve())]
    if project:
        command += ["--project_id", project]
    host_port = f"127.0.0.1:{port}"
    env = {"FIRESTORE_EMULATOR_HOST": host_port, "TRIBUTARY_FIRESTORE_EMULATOR_HOST": host_port}
    return Emulator("firestore", command, port=port, ready_path="/", env=env, log_dir=log_dir)


def _storage(port: int, log_dir: Path) -> Emulator:
    command = [sys.executable, "-m", "gcp_storage_emulator", "start"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--in-memory"]
    # Unlike the other two, the storage client wants a URL, scheme included.
    endpoint = f"http://127.0.0.1:{port}"
    env = {"STORAGE_EMULATOR_HOST": endpoint, "TRIBUTARY_STORAGE_EMULATOR_HOST": endpoint}
    return Emulator(
        "storage", command, port=port, ready_path="/storage/v1/b", env=env, log_dir=log_dir
    )


def start_pubsub(
    *, port: int | None = None, log_dir: Path | None = None, timeout: float = START_TIMEOUT_S
) -> Emulator:
    """Start the Pub/Sub emulator and wait until it serves."""
    return _pubsub(port or free_port(), _log_dir(log_dir)).wait_ready(timeout)


def start_firestore(
    *,
    port: int | None = None,
    rules: Path | None = None,
    project: str | None = None,
    log_dir: Path | None = None,
    timeout: float = START_TIMEOUT_S,
) -> Emulator:
    """Start the Firestore emulator (optionally enforcing a rules file) and wait until it serves.

    Admin clients (the Python server SDK sends ``Bearer owner``) bypass the rules;
    test rules through REST or the JS SDK with a user token.
    """
    emulator = _firestore(port or free_port(), _log_dir(log_dir), rules, project)
    return emulator.wait_ready(timeout)


def start_storage(
    *, port: int | None = None, log_dir: Path | None = None, timeout: float = START_TIMEOUT_S
) -> Emulator:
    """Start the Cloud Storage emulator (in memory) and wait until it serves."""
    return _storage(port or free_port(), _log_dir(log_dir)).wait_ready(timeout)


class EmulatorStack:
    """Pub/Sub, Firestore and Cloud Storage emulators, started together, with one env."""

    def __init__(
        self,
        *,
        project: str = DEFAULT_PROJECT,
        firestore_rules: Path | None = None,
        log_dir: Path | None = None,
    ) -> None:
        self.project = project
        self._rules = firestore_rules
        self.log_dir = _log_dir(log_dir)
        self.pubsub: Emulator | None = None
        self.firestore: Emulator | None = None
        self.storage: Emulator | None = None

    def start(self, timeout: float = START_TIMEOUT_S) -> EmulatorStack:
        """Start all three at once (start-up is the slow part); on failure stop them all."""
        try:
            self.storage = _storage(free_port(), self.log_dir)
            self.pubsub = _pubsub(free_port(), self.log_dir)
            self.firestore = _firestore(free_port(), self.log_dir, self._rules, self.project)
            for emulator in (self.storage, self.pubsub, self.firestore):
                emulator.wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        _log.info("emulators ready: %s", self.env, extra={"event": "emulators_ready"})
        return self

    @property
    def env(self) -> dict[str, str]:
        """Variables that point client libraries and the gcp backend at these emulators."""
        env = {
            "GOOGLE_CLOUD_PROJECT": self.project,
            "GCLOUD_PROJECT": self.project,
            "TRIBUTARY_GCP_PROJECT": self.project,
        }
        for emulator in (self.pubsub, self.firestore, self.storage):
            if emulator is not None:
                env.update(emulator.env)
        return env

    def settings_overrides(self) -> dict[str, Any]:
        """Settings fields that select the gcp backend on these emulators."""
        if self.pubsub is None or self.firestore is None or self.storage is None:
            raise EmulatorError("the emulator stack is not running")
        return {
            "backend": "gcp",
            "gcp_project": self.project,
            "pubsub_emulator_host": self.pubsub.env["TRIBUTARY_PUBSUB_EMULATOR_HOST"],
            "firestore_emulator_host": self.firestore.env["TRIBUTARY_FIRESTORE_EMULATOR_HOST"],
            "storage_emulator_host": self.storage.env["TRIBUTARY_STORAGE_EMULATOR_HOST"],
        }

    def stop(self) -> None:
        """Stop every emulator that is running."""
        for emulator in (self.pubsub, self.firestore, self.storage):
            if emulator is not None:
                emulator.stop()
        self.pubsub = self.firestore = self.storage = None

    def __enter__(self) -> EmulatorStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_emulator_backend(settings: Settings) -> tuple[Backend, EmulatorStack]:
    """Start the emulators and open the gcp backend on them (``tributary dev --backend emulators``).

    Emulator logs go to ``<data_dir>/emulators/``. The caller closes the backend and
    then stops the stack. Start it from a long-lived thread (the main one): the
    emulators are told to exit when the thread that started them ends.
    """
    from tributary.backend import open_backend

    project = settings.gcp_project or DEFAULT_PROJECT
    # The security rules as deployed: the web client reads its jobs through them.
    rules = Path(__file__).resolve().parents[1] / "deploy" / "firestore.rules"
    stack = EmulatorStack(
        project=project, log_dir=settings.data_dir / "emulators", firestore_rules=rules
    ).start()
    try:
        backend = open_backend(settings.with_overrides(**stack.settings_overrides()))
    except BaseException:
        stack.stop()
        raise
    return backend, stack
