"""The web client in a real browser against the real stack.

Debian's chromium, driven by Playwright (never a downloaded browser), against
``tributary dev`` run as a user runs it: in its own process, on the embedded
backend or on the Google Cloud emulators, with the suite's trained models.
Screenshots go to ``test-artifacts/e2e/``.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Playwright, sync_playwright

from tests.pipeline.test_dev_stack import _Lines

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "e2e"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-gpu",
    "--no-first-run",
    # A fake microphone that plays a tone, granted without a prompt.
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
]
_SLOW_FIRESTORE = (
    "Could not reach Cloud Firestore backend. Backend didn't respond within 10 seconds"
)
RESUMABLE_CHUNK = 4096
DESKTOP = {"width": 1100, "height": 900}
PHONE = {"width": 390, "height": 844}


def chromium_path() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        raise RuntimeError("no chromium: scripts/bootstrap.sh installs Debian's package")
    return found


@pytest.fixture(scope="session", autouse=True)
def _web_client_built() -> None:
    bundle = ROOT / "frontend" / "vendor" / "firebase.js"
    if not bundle.is_file():
        raise RuntimeError(f"no {bundle}: scripts/bootstrap.sh bundles the Firebase SDK")


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    launched = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS)
    yield launched
    launched.close()


@dataclass
class Problems:
    """What went wrong inside the page: uncaught exceptions and console errors."""

    errors: list[str] = field(default_factory=list)

    def assert_none(self) -> None:
        assert not self.errors, "the page reported:\n" + "\n".join(self.errors)

    def on_console(self, message: ConsoleMessage) -> None:
        # The Firestore SDK logs this as an error when its first answer takes over 10 s
        # (an emulator on a busy machine), then carries on; the flows still require
        # every change to arrive through it.
        if message.type == "error" and _SLOW_FIRESTORE not in message.text:
            self.errors.append(f"console: {message.text}")


@pytest.fixture
def page_problems() -> Problems:
    return Problems()


@pytest.fixture
def page(browser: Browser, page_problems: Problems) -> Iterator[Page]:
    context = browser.new_context(viewport=DESKTOP)
    opened = context.new_page()
    opened.on("console", page_problems.on_console)
    opened.on("pageerror", lambda exc: page_problems.errors.append(f"uncaught: {exc}"))
    yield opened
    context.close()


def screenshot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


@dataclass
class DevStack:
    url: str
    data_dir: Path
    process: subprocess.Popen[str]
    logs: _Lines


def start_dev(
    models: Path,
    data_dir: Path,
    *extra: str,
    timeout: float = 60,
    settings: dict[str, str] | None = None,
) -> DevStack:
    env = {
        **os.environ,
        "TRIBUTARY_DATA_DIR": str(data_dir),
        "TRIBUTARY_MODELS_DIR": str(models),
        # The browser tests make a few dozen requests in quick succession.
        "TRIBUTARY_RATE_LIMIT_BURST": "200",
        **(settings or {}),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "tributary.cli", "dev", "--port", "0", *extra],
        env=env,
        cwd=ROOT,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    logs = _Lines(process.stderr)
    try:
        url = logs.wait_for(r"web client: (http://\S+)/", timeout=timeout)[1]
    except BaseException:
        stop_dev(process)
        raise
    return DevStack(url, data_dir, process, logs)


def stop_dev(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def local_stack(
    bundled_models_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DevStack]:
    """``tributary dev`` on the embedded backend (the page watches jobs over SSE).

    Chunks of 4 KiB: a recording (8 KiB and more) goes up as a resumable upload
    here, while the emulator stack's default chunk size sends it as one multipart
    request, so the browser tests cover both ways.
    """
    stack = start_dev(
        bundled_models_dir,
        tmp_path_factory.mktemp("e2e-local") / "data",
        settings={"TRIBUTARY_UPLOAD_CHUNK_MAX_BYTES": str(RESUMABLE_CHUNK)},
    )
    yield stack
    stop_dev(stack.process)


@pytest.fixture(scope="session")
def emulator_dev_stack(
    bundled_models_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DevStack]:
    """``tributary dev --backend emulators`` (the page watches jobs with the Firebase SDK)."""
    stack = start_dev(
        bundled_models_dir,
        tmp_path_factory.mktemp("e2e-emulators") / "data",
        "--backend",
        "emulators",
        timeout=180,
        # Started after the local stack in one session, a function process forked by
        # the dev process (whose gRPC clients are live by then) twice exited at once,
        # its log holding only gRPC's "epoll_wait error: Bad file descriptor"; with
        # gRPC's fork support off in the dev process it has not happened since.
        settings={"GRPC_ENABLE_FORK_SUPPORT": "false"},
    )
    yield stack
    stop_dev(stack.process)
