"""The web client on `tributary dev --backend emulators`: jobs created through the API,
watched with the Firebase JS SDK's onSnapshot on the Firestore emulator, under the
security rules of deploy/firestore.rules."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from playwright.sync_api import Page, Request

from tests.e2e import flows
from tests.e2e.conftest import DevStack, Problems


@pytest.fixture
def requests(page: Page) -> list[str]:
    seen: list[str] = []

    def record(request: Request) -> None:
        seen.append(request.url)

    page.on("request", record)
    return seen


def _firestore_host(stack: DevStack) -> str:
    env = json.loads((stack.data_dir / "dev.json").read_text())["env"]
    host: str = env["TRIBUTARY_FIRESTORE_EMULATOR_HOST"]
    return host


def _watched_through_firestore(stack: DevStack, requests: list[str]) -> None:
    host = _firestore_host(stack)
    assert any(host in url and "Listen" in url for url in requests), requests
    assert not any(url.split("?")[0].endswith("/events") for url in requests)


def test_a_cough_upload_is_watched_through_firestore(
    page: Page,
    emulator_dev_stack: DevStack,
    tmp_path: Path,
    requests: list[str],
    page_problems: Problems,
) -> None:
    flows.open_page(page, emulator_dev_stack.url, "firestore")
    flows.upload_cough(page, emulator_dev_stack.url, tmp_path, "emulators-cough-result")
    _watched_through_firestore(emulator_dev_stack, requests)
    # Under the default chunk size the recording went up as one multipart request.
    assert f"{emulator_dev_stack.url}/v1/jobs" in requests
    assert not any("/v1/uploads" in url for url in requests)
    page_problems.assert_none()


def test_a_query_is_watched_through_firestore(
    page: Page, emulator_dev_stack: DevStack, requests: list[str], page_problems: Problems
) -> None:
    flows.open_page(page, emulator_dev_stack.url, "firestore")
    flows.ask_text2brain(
        page, emulator_dev_stack.url, "reading words aloud", "emulators-text2brain-result"
    )
    _watched_through_firestore(emulator_dev_stack, requests)
    page_problems.assert_none()


def test_a_corrupt_file_fails_with_its_message_through_firestore(
    page: Page, emulator_dev_stack: DevStack, tmp_path: Path, requests: list[str]
) -> None:
    flows.open_page(page, emulator_dev_stack.url, "firestore")
    flows.upload_corrupt(page, tmp_path, "emulators-cough-corrupt")
    _watched_through_firestore(emulator_dev_stack, requests)


_READ_AS = """async ({ jobId, user }) => {
  const config = await (await fetch("/v1/config")).json();
  const sdk = await import("/ui/vendor/firebase.js");
  const app = sdk.initializeApp({ projectId: config.firebase.projectId }, `as-${user}`);
  const db = sdk.getFirestore(app);
  const [host, port] = config.firebase.emulatorHost.split(":");
  sdk.connectFirestoreEmulator(db, host, Number(port), { mockUserToken: { sub: user } });
  return await new Promise((resolve) => {
    const stop = sdk.onSnapshot(
      sdk.doc(db, "jobs", jobId),
      (snapshot) => { stop(); resolve(snapshot.exists() ? snapshot.data().owner : "absent"); },
      (error) => resolve(error.code),
    );
  });
}"""


def test_the_security_rules_let_only_the_owner_read_a_job_in_the_browser(
    page: Page, emulator_dev_stack: DevStack
) -> None:
    flows.open_page(page, emulator_dev_stack.url, "firestore")
    created = page.request.post(
        f"{emulator_dev_stack.url}/v1/jobs",
        data={"app": "text2brain", "text": "whose job is this"},
        headers={"X-Dev-User": flows.USER},
    )
    assert created.status == 202
    job_id = created.json()["job_id"]
    assert page.evaluate(_READ_AS, {"jobId": job_id, "user": flows.USER}) == flows.USER
    assert page.evaluate(_READ_AS, {"jobId": job_id, "user": "mallory"}) == "permission-denied"
