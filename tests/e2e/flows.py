"""What a person does with the web client, step by step, with what they must see.

Each flow checks the page against the job the server recorded, so a page that
shows something else (or nothing) fails.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, expect

from apps.cough.synth import synth_clip
from tests import audiofiles
from tests.e2e.conftest import screenshot

JOB_TIMEOUT_MS = 90_000
USER = "local"


def server_job(base: str, job_id: str) -> dict[str, Any]:
    request = urllib.request.Request(f"{base}/v1/jobs/{job_id}", headers={"X-Dev-User": USER})
    with urllib.request.urlopen(request, timeout=10) as response:
        job: dict[str, Any] = json.load(response)
    return job


def wait_final(base: str, job_id: str, timeout: float = 90.0) -> dict[str, Any]:
    """The job once it succeeded or failed (it may not exist for a moment after an upload)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            job = server_job(base, job_id)
        except urllib.error.HTTPError as exc:
            if exc.code != 404:
                raise
        else:
            if job["state"] in ("succeeded", "failed"):
                return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish within {timeout} s")


def job_ids(base: str, app: str) -> list[str]:
    """The ids of the user's recent jobs of ``app``, newest first."""
    request = urllib.request.Request(f"{base}/v1/jobs?limit=50", headers={"X-Dev-User": USER})
    with urllib.request.urlopen(request, timeout=10) as response:
        jobs = json.load(response)["jobs"]
    return [job["job_id"] for job in jobs if job["app"] == app]


def newest_job_id(base: str, app: str) -> str:
    return job_ids(base, app)[0]


def open_page(page: Page, base: str, realtime: str) -> None:
    page.goto(base + "/")
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    expect(page.locator("body")).to_have_attribute("data-realtime", realtime)


def cough_clip(tmp_path: Path) -> Path:
    clip = tmp_path / "cough.webm"
    samples = synth_clip("dry", 11, seconds=2.0)
    clip.write_bytes(audiofiles.encode(samples, audiofiles.SAMPLE_RATE, "webm_opus"))
    return clip


def upload_cough(page: Page, base: str, tmp_path: Path, shot: str) -> dict[str, Any]:
    """Pick a webm recording: its stages, label, confidence and spectrogram appear."""
    page.locator("[data-tab=cough]").click()
    page.set_input_files("#cough-file", str(cough_clip(tmp_path)))
    result = page.locator("#cough-result")
    expect(result).to_be_visible(timeout=JOB_TIMEOUT_MS)
    job = server_job(base, newest_job_id(base, "cough"))
    assert job["state"] == "succeeded"
    expect(page.locator("#cough-label")).to_have_attribute("data-label", job["result"]["label"])
    percent = round(job["result"]["confidence"] * 100)
    expect(page.locator("#cough-confidence-text")).to_contain_text(f"Confidence {percent}%")
    expect(page.locator("#cough-progress")).to_have_attribute("value", "100")
    for stage in ("preprocess", "inference", "lookup"):
        expect(page.locator(f"#cough-stages [data-stage={stage}]")).to_have_attribute(
            "data-status", "done"
        )
        expect(page.locator(f"#cough-stages [data-stage={stage}]")).to_contain_text(" ms")
    picture = page.locator("#cough-spectrogram")
    expect(picture).to_be_visible()
    page.wait_for_function(
        "document.getElementById('cough-spectrogram').naturalWidth === 480", timeout=10_000
    )
    expect(page.locator("#cough-error")).to_be_hidden()
    screenshot(page, shot)
    return job


def upload_corrupt(page: Page, tmp_path: Path, shot: str) -> None:
    """A damaged recording: the error code's human message appears, not JSON."""
    bad = tmp_path / "damaged.ogg"
    bad.write_bytes(audiofiles.truncated_ogg())
    page.locator("[data-tab=cough]").click()
    page.set_input_files("#cough-file", str(bad))
    error = page.locator("#cough-error")
    expect(error).to_be_visible(timeout=JOB_TIMEOUT_MS)
    expect(error).to_have_attribute("data-code", "corrupt_media")
    expect(error.locator("strong")).to_have_text(
        "The file could not be decoded; it may be damaged or truncated."
    )
    assert "{" not in error.inner_text()
    expect(page.locator("#cough-result")).to_be_hidden()
    expect(page.locator("#cough-stages [data-stage=final]")).to_contain_text("Failed")
    expect(page.locator("#cough-stages [data-stage=preprocess]")).to_have_attribute(
        "data-status", "failed"
    )
    screenshot(page, shot)


def ask_text2brain(page: Page, base: str, query: str, shot: str) -> dict[str, Any]:
    """A query: the map's slices, a download link and five articles with correlations."""
    page.locator("[data-tab=text2brain]").click()
    expect(page.locator("#model-status")).to_have_attribute("data-ready", "true", timeout=60_000)
    page.fill("#query-text", query)
    page.locator("#query-form button[type=submit]").click()
    articles = page.locator("#t2b-articles .article")
    expect(page.locator("#t2b-result")).to_be_visible(timeout=JOB_TIMEOUT_MS)
    expect(articles).to_have_count(5)
    job = server_job(base, newest_job_id(base, "text2brain"))
    assert job["input"]["text"] == query and job["state"] == "succeeded"
    for i, article in enumerate(job["result"]["articles"]):
        expect(articles.nth(i).locator(".article-title")).to_have_text(article["title"])
        expect(articles.nth(i).locator(".correlation-value")).to_have_text(
            f"r = {article['correlation']:.2f}"
        )
    page.wait_for_function(
        "document.getElementById('t2b-preview').naturalWidth > 100", timeout=10_000
    )
    download = page.locator("#t2b-download")
    expect(download).to_be_visible()
    expect(download).to_have_attribute("download", "map.nii.gz")
    with page.expect_download() as saving:
        download.click()
    saved = Path(saving.value.path())
    assert saved.read_bytes()[:2] == b"\x1f\x8b"  # a gzipped NIfTI
    asked = job["result"]["cache"]["asked"]
    expect(page.locator("#t2b-asked")).to_have_text(
        f"asked {asked} {'time' if asked == 1 else 'times'}"
    )
    screenshot(page, shot)
    return job
