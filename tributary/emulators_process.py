"""One emulator process: started in its own process group, awaited, stopped without a trace.

The process leads a new session, so ``stop()`` signals its whole group (the
SDK's launchers fork helpers), and on Linux it is told to exit if the thread that
started it dies, so a killed test run leaves no JVM behind. Readiness is an HTTP
200 from the emulator's port; if it never comes, the error carries the
emulator's last lines of output.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Mapping
from pathlib import Path

from tributary.errors import TransientError

_log = logging.getLogger("tributary.emulators")

START_TIMEOUT_S = 60.0


class EmulatorError(TransientError):
    """An emulator could not be started."""

    code = "emulator_unavailable"


def free_port() -> int:
    """A TCP port nothing listens on right now (the kernel's pick for port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Emulator:
    """One running emulator process (and its process group)."""

    def __init__(
        self,
        name: str,
        command: list[str],
        *,
        port: int,
        ready_path: str,
        env: Mapping[str, str],
        log_dir: Path,
    ) -> None:
        self.name = name
        self.port = port
        self.host_port = f"127.0.0.1:{port}"
        self.env: dict[str, str] = dict(env)
        self._ready_url = f"http://{self.host_port}{ready_path}"
        self.log_path = log_dir / f"{name}.log"
        with self.log_path.open("wb") as log:
            # A new session makes the emulator lead its own process group, which
            # stop() signals as a whole (the SDK launchers fork helpers).
            self.process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd=log_dir,
                preexec_fn=die_with_parent,
            )

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait_ready(self, timeout: float = START_TIMEOUT_S) -> Emulator:
        """Poll the emulator's HTTP endpoint until it answers; raise with its output if not."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.stop()
                raise EmulatorError(
                    f"the {self.name} emulator exited with status {self.process.returncode}"
                    f" before it was ready:\n{self.last_output()}"
                )
            try:
                with urllib.request.urlopen(self._ready_url, timeout=1.0) as response:
                    if response.status == 200:
                        return self
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        self.stop()
        raise EmulatorError(
            f"the {self.name} emulator did not answer on {self._ready_url} within"
            f" {timeout:.0f} s:\n{self.last_output()}"
        )

    def last_output(self, lines: int = 30) -> str:
        """The emulator's last lines of output, for error messages."""
        try:
            with self.log_path.open("rb") as log:
                tail = deque(log, maxlen=lines)
        except OSError:
            return "(no output)"
        return b"".join(tail).decode("utf-8", "replace").rstrip() or "(no output)"

    def stop(self, timeout: float = 10.0) -> None:
        """Terminate the process group; kill it if it lingers; wait until the port is free."""
        if self.process.poll() is None:
            signal_group(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                signal_group(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout)
        # The leader may be gone while helpers it forked still hold the group.
        signal_group(self.process.pid, signal.SIGKILL)
        wait_port_closed(self.port, timeout)

    def __enter__(self) -> Emulator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<{self.name} emulator on {self.host_port}, pid {self.pid}>"


def die_with_parent() -> None:
    """In the child: get SIGTERM when the parent dies, so a killed test run leaks no JVM."""
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def wait_port_closed(port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            if sock.connect_ex(("127.0.0.1", port)) != 0:
                return
        time.sleep(0.05)
    _log.warning(
        "port %s still accepts connections after the emulator stopped",
        port,
        extra={"event": "emulator_port_busy"},
    )
