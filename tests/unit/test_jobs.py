"""The job state machine as pure functions: claims, leases, final states."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from schemas import TextInput
from tributary import jobs
from tributary.errors import PermanentError

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _job() -> jobs.JobDocument:
    return jobs.new_job(
        job_id="7b1f3c1e-5a0e-4a65-9a47-1c2f1d4b9c11",
        app="echo",
        job_input=TextInput(text="x"),
        owner="u",
        now=T0,
        stuck_after_s=600,
    )


def _claim(job: jobs.JobDocument, stage: str, now: datetime = T0, run: int = 1):  # type: ignore[no-untyped-def]
    return jobs.claim(job, stage=stage, run=run, now=now, lease_s=30, stuck_after_s=600)  # type: ignore[arg-type]


def test_a_claim_takes_a_lease_and_a_live_lease_makes_others_wait() -> None:
    claimed = _claim(_job(), "preprocess")
    assert isinstance(claimed, jobs.Claimed) and claimed.attempts == 1
    assert claimed.job.state == "preprocessing"
    assert isinstance(_claim(claimed.job, "preprocess", T0 + timedelta(seconds=10)), jobs.Busy)
    # Once the lease has expired (its worker died), a redelivery takes over.
    taken = _claim(claimed.job, "preprocess", T0 + timedelta(seconds=31))
    assert isinstance(taken, jobs.Claimed) and taken.attempts == 2
    assert not jobs.holds_lease(taken.job, "preprocess", 1, claimed.lease_id)


def test_finished_work_is_skipped_and_final_states_stay_final() -> None:
    claimed = _claim(_job(), "preprocess")
    assert isinstance(claimed, jobs.Claimed)
    done = jobs.finish_stage(claimed.job, stage="preprocess", now=T0, ms=1.0, stuck_after_s=600)
    assert isinstance(_claim(done, "preprocess"), jobs.Skip)
    failed = jobs.fail(done, error=PermanentError("bad"), stage="inference", now=T0)
    assert isinstance(_claim(failed, "inference"), jobs.Skip)
    assert isinstance(_claim(done, "inference", run=2), jobs.Skip)  # a run the job never started


def test_the_state_never_moves_backwards_when_stages_overlap() -> None:
    pre = _claim(_job(), "preprocess")
    assert isinstance(pre, jobs.Claimed)
    # The next stage starts before the previous one recorded itself finished.
    inf = _claim(pre.job, "inference")
    assert isinstance(inf, jobs.Claimed) and inf.job.state == "inference"
    done = jobs.finish_stage(inf.job, stage="preprocess", now=T0, ms=2.0, stuck_after_s=600)
    assert done.state == "inference" and done.stages["preprocess"].ms == 2.0
    assert jobs.holds_lease(done, "inference", 1, inf.lease_id)


def test_a_new_run_starts_over_and_supersedes_the_old_one() -> None:
    claimed = _claim(_job(), "preprocess")
    assert isinstance(claimed, jobs.Claimed)
    rerun = jobs.new_run(claimed.job, now=T0, stuck_after_s=600)
    assert rerun.run == 2 and rerun.state == "queued" and rerun.result is None
    assert isinstance(_claim(rerun, "preprocess", run=1), jobs.Skip)
    assert isinstance(_claim(rerun, "preprocess", run=2), jobs.Claimed)
