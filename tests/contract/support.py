"""What contract tests share: the backend under test and small bounded-wait helpers."""

from __future__ import annotations

import os
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from tributary.backend import Backend
from tributary.config import Settings
from tributary.ports import Bus, Message

SCRIPTS = Path(__file__).parent / "scripts"

T = TypeVar("T")

# Object names that would escape or confuse a store that turned names into file paths.
ODD_NAMES = [
    "../../escape.txt",
    "../../../../../../etc/passwd",
    "/absolute/path.bin",
    "/",
    "a/../../b",
    "./.",
    "dir/",
    "uploads\\..\\..\\windows.wav",
    "toux sèche/enregistrement-été.wav",
    "咳嗽/录音.m4a",
    "emoji-🎤.webm",
    "x" * 1000,
]


@dataclass
class BackendUnderTest:
    """One opened backend plus what a test needs to drive it from the outside."""

    kind: str
    backend: Backend
    settings: Settings
    # Moves time forward for the backend: a manual clock on the local backend,
    # a real sleep on a backend that runs on wall-clock time.
    let_time_pass: Callable[[float], None]

    def subprocess_env(self) -> dict[str, str]:
        """The environment under which another process opens this same backend."""
        return subprocess_env(self.settings)


def subprocess_env(settings: Settings) -> dict[str, str]:
    """The environment under which another process opens the backend ``settings`` name."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRIBUTARY_")}
    env["TRIBUTARY_BACKEND"] = settings.backend
    env["TRIBUTARY_DATA_DIR"] = str(settings.data_dir)
    env["TRIBUTARY_BUCKET"] = settings.bucket
    env["TRIBUTARY_UPLOADS_PREFIX"] = settings.uploads_prefix
    # Opening a backend (re)declares the subscriptions: keep their policy as it is here.
    env["TRIBUTARY_ACK_DEADLINE_S"] = str(settings.ack_deadline_s)
    env["TRIBUTARY_MAX_DELIVERY_ATTEMPTS"] = str(settings.max_delivery_attempts)
    env["TRIBUTARY_MIN_BACKOFF_S"] = str(settings.min_backoff_s)
    env["TRIBUTARY_MAX_BACKOFF_S"] = str(settings.max_backoff_s)
    if settings.backend == "gcp":
        env["TRIBUTARY_GCP_PROJECT"] = settings.gcp_project
        env["TRIBUTARY_PUBSUB_EMULATOR_HOST"] = settings.pubsub_emulator_host
        env["TRIBUTARY_FIRESTORE_EMULATOR_HOST"] = settings.firestore_emulator_host
        env["TRIBUTARY_STORAGE_EMULATOR_HOST"] = settings.storage_emulator_host
    env["PYTHONUNBUFFERED"] = "1"
    return env


def unique(prefix: str) -> str:
    """A resource name no other test uses, so backends with shared state stay isolated."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def script_command(name: str, *args: str) -> list[str]:
    """The command line that runs one of the helper scripts with this interpreter."""
    return [sys.executable, str(SCRIPTS / name), *args]


def wait_until(predicate: Callable[[], T], timeout: float, what: str) -> T:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.01)


def pull_all(bus: Bus, subscription: str, expected: int, timeout: float = 5.0) -> list[Message]:
    """Pull until ``expected`` messages arrived (or ``timeout``); returns what arrived."""
    got: list[Message] = []
    deadline = time.monotonic() + timeout
    while len(got) < expected and time.monotonic() < deadline:
        got.extend(bus.pull(subscription, max_messages=expected - len(got), timeout=0.2))
    return got
