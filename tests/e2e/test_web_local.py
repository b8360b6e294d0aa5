"""The web client on `tributary dev` (embedded backend): jobs watched over SSE."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Browser, Page, expect

from tests import audiofiles
from tests.e2e import flows
from tests.e2e.conftest import PHONE, RESUMABLE_CHUNK, DevStack, Problems, screenshot


def test_a_cough_upload_shows_its_stages_label_and_spectrogram(
    page: Page, local_stack: DevStack, tmp_path: Path, page_problems: Problems
) -> None:
    chunks: list[str] = []
    page.on(
        "request",
        lambda request: (
            chunks.append(request.headers.get("content-range", ""))
            if request.method == "PUT"
            else None
        ),
    )
    flows.open_page(page, local_stack.url, "sse")
    flows.upload_cough(page, local_stack.url, tmp_path, "local-cough-result")
    # A file larger than the server's chunk size went up in resumable chunks.
    size = flows.cough_clip(tmp_path).stat().st_size
    assert len(chunks) == -(-size // RESUMABLE_CHUNK) >= 2
    assert chunks[0] == f"bytes 0-{RESUMABLE_CHUNK - 1}/{size}"
    page_problems.assert_none()


def test_a_query_shows_the_map_slices_and_five_articles_and_counts_repeats(
    page: Page, local_stack: DevStack, page_problems: Problems
) -> None:
    flows.open_page(page, local_stack.url, "sse")
    query = "finger tapping with the right hand"
    first = flows.ask_text2brain(page, local_stack.url, query, "local-text2brain-result")
    again = flows.ask_text2brain(page, local_stack.url, query, "local-text2brain-cached")
    assert again["result"]["cache"] == {"hit": True, "asked": first["result"]["cache"]["asked"] + 1}
    page_problems.assert_none()


def test_a_corrupt_file_shows_the_human_message_of_its_error(
    page: Page, local_stack: DevStack, tmp_path: Path
) -> None:
    flows.open_page(page, local_stack.url, "sse")
    flows.upload_corrupt(page, tmp_path, "local-cough-corrupt")


def test_history_lists_my_jobs_and_reopens_one(page: Page, local_stack: DevStack) -> None:
    base, headers = local_stack.url, {"X-Dev-User": flows.USER}
    query = "working memory load in history"
    asked = page.request.post(
        f"{base}/v1/jobs", data={"app": "text2brain", "text": query}, headers=headers
    )
    damaged = page.request.post(
        f"{base}/v1/jobs",
        multipart={
            "app": "cough",
            "file": {
                "name": "damaged.ogg",
                "mimeType": "audio/ogg",
                "buffer": audiofiles.truncated_ogg(),
            },
        },
        headers=headers,
    )
    assert asked.status == 202 and damaged.status == 202
    query_id, damaged_id = asked.json()["job_id"], damaged.json()["job_id"]
    for job_id in (query_id, damaged_id):
        flows.wait_final(base, job_id)

    flows.open_page(page, base, "sse")
    page.locator("[data-tab=history]").click()
    item = page.locator(f"#history [data-job='{query_id}']")
    expect(item).to_contain_text(f"“{query}”")
    expect(item).to_contain_text("succeeded")
    failed = page.locator(f"#history [data-job='{damaged_id}']")
    expect(failed).to_contain_text("The file could not be decoded")
    expect(failed).to_contain_text("failed")
    screenshot(page, "local-history")
    item.get_by_role("button", name="Open").click()
    expect(page.locator("#tab-text2brain")).to_be_visible()
    expect(page.locator("#t2b-result")).to_be_visible(timeout=30_000)
    expect(page.locator("#t2b-articles .article")).to_have_count(5)
    expect(page.locator("#query-text")).to_have_value(query)


def test_recording_from_the_microphone_makes_a_job(
    page: Page, local_stack: DevStack, page_problems: Problems
) -> None:
    """Chromium's fake microphone plays a beep; the page records, uploads and follows it."""
    flows.open_page(page, local_stack.url, "sse")
    before = set(flows.job_ids(local_stack.url, "cough"))
    page.locator("#record").click()
    expect(page.locator("#record")).to_have_text("■ Stop")
    page.wait_for_timeout(1500)
    page.locator("#record").click()
    final = page.locator("#cough-stages [data-stage=final]")
    expect(final).to_have_class(re.compile("succeeded|failed"), timeout=60_000)
    made = [i for i in flows.job_ids(local_stack.url, "cough") if i not in before]
    assert len(made) == 1
    job = flows.server_job(local_stack.url, made[0])
    assert job["input"]["content_type"].startswith(("audio/webm", "video/webm"))
    screenshot(page, "local-cough-recorded")
    page_problems.assert_none()


def test_the_page_fits_a_phone_screen(browser: Browser, local_stack: DevStack) -> None:
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    try:
        page = context.new_page()
        flows.open_page(page, local_stack.url, "sse")
        for tab in ("cough", "text2brain", "history"):
            page.locator(f"[data-tab={tab}]").click()
            overflow = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0, f"the {tab} tab is wider than the phone by {overflow}px"
            screenshot(page, f"phone-{tab}")
    finally:
        context.close()
