"""Replay, seek, run history and backfill on the embedded backend, with the echo app."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from tests.helpers import wait_for, wait_terminal
from tests.unit.test_registry import _build
from tributary import backfill, client, intake, jobs, replay, reprocess, runs
from tributary.backend import Backend, open_backend
from tributary.config import Settings
from tributary.registry import ModelRegistry
from tributary.replay import Selection, plan
from tributary.runner import Runner, handlers
from tributary.topology import STAGES, SUB_ON_UPLOAD


@pytest.fixture
def echo(settings: Settings) -> Iterator[Backend]:
    """The echo app with two registered versions, e1 active; promotions seen at once."""
    fast = settings.with_overrides(model_refresh_s=0.0)
    for version in ("e1", "e2"):
        _build(fast, "echo", version)
    backend = open_backend(fast)
    ModelRegistry(backend).promote("echo", "e1")
    yield backend
    backend.close()


def _finished(backend: Backend, n: int, tag: str = "clip") -> list[str]:
    with Runner(backend):
        ids = [
            client.submit_file(backend, f"{tag} {i}".encode(), app="echo", filename="a.txt")
            for i in range(n)
        ]
        for job_id in ids:
            wait_terminal(backend, job_id)
    return ids


def _job(backend: Backend, job_id: str) -> dict[str, Any]:
    document = backend.documents.get(jobs.job_path(job_id))
    assert document is not None
    return document


def _step(backend: Backend, subscription: str) -> None:
    """Deliver one message of ``subscription`` to its handler, by hand."""
    messages = backend.bus.pull(subscription, 1, timeout=2.0)
    assert len(messages) == 1
    assert handlers(backend)[subscription](messages[0]) == "ack"
    backend.bus.ack(subscription, [messages[0].ack_id])


def _replay(backend: Backend, selection: Selection) -> reprocess.Summary:
    with Runner(backend):
        checkpoint, _resumed = reprocess.open_checkpoint(
            backend, selection, resume=None, fresh=False
        )
        reprocess.publish(backend, checkpoint, rate=0)
        assert reprocess.wait(backend, checkpoint, timeout=30)
    summary = reprocess.summarize(backend, checkpoint)
    reprocess.finish(backend, checkpoint, summary)
    return summary


def test_a_run_keeps_the_version_it_started_with_across_a_promotion(echo: Backend) -> None:
    job_id = client.submit_file(echo, b"hello", app="echo", filename="a.txt")
    _step(echo, SUB_ON_UPLOAD)
    _step(echo, STAGES[0].subscription)
    ModelRegistry(echo).promote("echo", "e2")  # between preprocess and inference
    _step(echo, STAGES[1].subscription)
    _step(echo, STAGES[2].subscription)
    doc = _job(echo, job_id)
    assert doc["state"] == "succeeded"
    assert doc["result"]["versions"] == ["e1", "e1", "e1"]
    assert doc["model"]["version"] == "e1"
    with Runner(echo):  # the next job starts on the promoted version
        later = wait_terminal(echo, client.submit_file(echo, b"x", app="echo", filename="b.txt"))
    assert later["result"]["versions"] == ["e2", "e2", "e2"]


def test_replay_runs_selected_jobs_again_on_the_new_version_and_keeps_history(
    echo: Backend,
) -> None:
    ids = _finished(echo, 12)
    ModelRegistry(echo).promote("echo", "e2")
    assert plan(echo, Selection(app="echo", stale=True)) == {("echo", "succeeded", "e1"): 12}
    summary = _replay(echo, Selection(app="echo", stale=True))
    assert (summary.restarted, summary.succeeded, summary.failed) == (12, 12, 0)
    assert summary.versions == {"e2": 12}
    assert summary.changed == {"versions": 12}  # the echo result names its version
    for job_id in ids:
        doc = _job(echo, job_id)
        assert doc["run"] == 2 and doc["run_origin"] == f"replay:{summary.replay_id}"
        assert doc["result"]["versions"] == ["e2", "e2", "e2"]
        history = runs.history(echo.documents, job_id)
        assert [r["run"] for r in history] == [1]
        assert history[0]["model"]["version"] == "e1"
        assert history[0]["result"]["versions"] == ["e1", "e1", "e1"]
    # Nothing stale is left: a second replay of the same selection finds nothing.
    assert plan(echo, Selection(app="echo", stale=True)) == {}


def test_replay_selects_by_state_and_time(echo: Backend) -> None:
    early = _finished(echo, 3, tag="early")
    cutoff = jobs.dump_timestamp(echo.clock.now() + timedelta(microseconds=1))
    with Runner(echo):
        bad = client.submit_file(echo, b"fail:permanent", app="echo", filename="x.txt")
        wait_terminal(echo, bad)
    late = _finished(echo, 2, tag="late")
    assert sum(plan(echo, Selection(app="echo", states=("failed",))).values()) == 1
    assert sum(plan(echo, Selection(app="echo", since=cutoff)).values()) == 3
    assert sum(plan(echo, Selection(app="echo", until=cutoff)).values()) == len(early)
    summary = _replay(echo, Selection(app="echo", states=("failed",)))
    assert (summary.restarted, summary.failed, summary.unchanged) == (1, 1, 1)
    assert _job(echo, bad)["run"] == 2
    assert all(_job(echo, j)["run"] == 1 for j in early + late)


def test_a_replay_started_again_resumes_and_restarts_no_job_twice(echo: Backend) -> None:
    ids = _finished(echo, 30)
    ModelRegistry(echo).promote("echo", "e2")
    selection = Selection(app="echo", older_than="e2")
    checkpoint, resumed = reprocess.open_checkpoint(echo, selection, resume=None, fresh=False)
    assert not resumed
    # Interrupted after 10 jobs: restart them, then save the checkpoint as publish does.
    for job in list(replay.selected(echo, selection))[:10]:
        checkpoint.counts[replay.restart(echo, job.job_id, checkpoint.origin)] += 1
    again, resumed = reprocess.open_checkpoint(echo, selection, resume=None, fresh=False)
    assert resumed and again.replay_id == checkpoint.replay_id
    with Runner(echo):
        reprocess.publish(echo, again, rate=0)
        assert reprocess.wait(echo, again, timeout=30)
    summary = reprocess.summarize(echo, again)
    assert summary.succeeded == 30 and summary.versions == {"e2": 30}
    assert all(_job(echo, j)["run"] == 2 for j in ids)
    assert all(echo.documents.get(runs.run_path(j, 2)) is None for j in ids)


def test_a_seek_reruns_jobs_whose_model_changed_and_drops_the_rest(echo: Backend) -> None:
    before = echo.clock.now() - timedelta(seconds=1)
    ids = _finished(echo, 5)
    jobs_sub = STAGES[0].subscription
    with Runner(echo):
        echo.bus.seek(jobs_sub, before)  # same model: every redelivery is a duplicate
        wait_for(lambda: echo.bus.backlog(jobs_sub) == 0)  # type: ignore[attr-defined]
    assert all(_job(echo, j)["run"] == 1 for j in ids)

    ModelRegistry(echo).promote("echo", "e2")
    with Runner(echo):
        assert echo.bus.seek(jobs_sub, before) == 5
        wait_for(
            lambda: all(
                _job(echo, j)["run"] == 2 and _job(echo, j)["state"] == "succeeded" for j in ids
            )
        )
        echo.bus.seek(jobs_sub, before)  # on the active version now: duplicates again
        wait_for(lambda: echo.bus.backlog(jobs_sub) == 0)  # type: ignore[attr-defined]
    for job_id in ids:
        doc = _job(echo, job_id)
        assert (doc["run"], doc["run_origin"]) == (2, "seek")
        assert doc["result"]["versions"] == ["e2", "e2", "e2"]
        assert runs.history(echo.documents, job_id)[0]["model"]["version"] == "e1"


def test_a_seek_to_a_snapshot_redelivers_what_came_after_it(echo: Backend) -> None:
    first = _finished(echo, 2, tag="first")
    jobs_sub = STAGES[0].subscription
    echo.bus.create_snapshot("before-e2", jobs_sub)  # type: ignore[attr-defined]
    second = _finished(echo, 3, tag="second")
    ModelRegistry(echo).promote("echo", "e2")
    with Runner(echo):
        assert echo.bus.seek_to_snapshot(jobs_sub, "before-e2") == 3  # type: ignore[attr-defined]
        wait_for(lambda: all(_job(echo, j)["run"] == 2 for j in second))
        wait_for(lambda: echo.bus.backlog(jobs_sub) == 0)  # type: ignore[attr-defined]
    assert all(_job(echo, j)["run"] == 1 for j in first)


def test_backfill_creates_jobs_for_objects_already_there_and_resumes(
    echo: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Objects written before the pipeline: outside the uploads prefix, so no event.
    for i in range(25):
        echo.blobs.put(f"legacy/{i:03d}.txt", f"old {i}".encode(), content_type="text/plain")
    real = intake.create_for_object
    calls = {"n": 0}

    def crash_on_the_fourteenth(*args: Any, **kwargs: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 14:
            raise RuntimeError("killed")
        real(*args, **kwargs)

    monkeypatch.setattr(intake, "create_for_object", crash_on_the_fourteenth)
    first = backfill.open_backfill(echo, "legacy/", "echo", fresh=False)
    with pytest.raises(RuntimeError):
        backfill.run_backfill(echo, first, chunk=10)
    monkeypatch.setattr(intake, "create_for_object", real)
    again = backfill.open_backfill(echo, "legacy/", "echo", fresh=False)
    assert again.cursor == "legacy/009.txt" and again.counts["created"] == 10
    done = backfill.run_backfill(echo, again, chunk=10)
    # Objects 10..12 got their jobs before the crash: found, not created twice.
    assert (done.counts["created"], done.counts["existing"]) == (22, 3)
    with Runner(echo):
        rows = wait_for(
            lambda: (
                [
                    d
                    for _id, d in echo.documents.query("jobs", where=[("app", "==", "echo")])
                    if d.get("state") == "succeeded"
                ]
                if len(echo.documents.query("jobs", where=[("state", "==", "succeeded")])) == 25
                else None
            )
        )
    assert sorted(d["result"]["length"] for d in rows) == sorted(len(f"old {i}") for i in range(25))


def test_the_summary_compares_what_users_call_a_change(settings: Settings) -> None:
    from apps.cough.app import CoughApp
    from apps.text2brain.app import Text2BrainApp

    cough = CoughApp(settings)
    assert cough.comparable({"label": "dry", "confidence": 0.9, "model": {}}) == {"label": "dry"}
    brain = Text2BrainApp(settings)
    articles = [{"pmid": "1", "correlation": 0.5}, {"pmid": "2", "correlation": 0.4}]
    assert brain.comparable({"articles": articles, "map": {"generation": 3}}) == {
        "articles": ["1", "2"]
    }
    done = jobs.load(
        {
            "job_id": "00000000-0000-4000-8000-000000000000",
            "app": "cough",
            "created_at": "2026-11-22T00:00:00.000000Z",
            "updated_at": "2026-11-22T00:00:00.000000Z",
            "input": {"kind": "blob", "bucket": "b", "name": "n"},
            "state": "succeeded",
            "run": 2,
            "result": {"label": "wet", "confidence": 0.95},
        }
    )
    same = {"state": "succeeded", "result": {"label": "wet", "confidence": 0.81}}
    assert reprocess.compare(done, same, settings) == []  # confidence alone is no change
    assert reprocess.compare(done, {**same, "result": {"label": "dry"}}, settings) == ["label"]
    assert reprocess.compare(done, {"state": "failed"}, settings) == ["state"]
