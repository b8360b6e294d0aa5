"""The `tributary` command in-process: documents on stdout, progress on stderr, exit codes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tributary.cli import EXIT_JOB_FAILED, EXIT_OK, EXIT_USAGE, main


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_submit_runs_the_pipeline_in_process_and_prints_the_document(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    upload = tmp_path / "greeting.txt"
    upload.write_bytes(b"hello there")
    data = ["--data-dir", str(tmp_path / "data")]
    code, out, err = _run(capsys, *data, "submit", str(upload), "--app", "echo", "--follow")
    assert code == EXIT_OK
    document = json.loads(out)
    assert document["state"] == "succeeded" and document["result"]["length"] == 11
    states = [
        m[2] for line in err.splitlines() if (m := re.match(r"\[\s*[\d.]+s\] (\w+) (\w+)", line))
    ]
    assert states[0] in ("queued", "preprocessing") and states[-1] == "succeeded"
    assert "preprocess" in err and "ms" in err

    code, out, _ = _run(capsys, *data, "jobs")
    assert code == EXIT_OK and document["job_id"] in out and "succeeded" in out
    code, out, _ = _run(capsys, *data, "jobs", "--json")
    assert [d["job_id"] for d in json.loads(out)] == [document["job_id"]]


def test_a_failed_job_exits_non_zero_with_its_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = ["--data-dir", str(tmp_path / "data")]
    code, out, _ = _run(capsys, *data, "submit", "--text", "fail:permanent", "--app", "echo")
    assert code == EXIT_JOB_FAILED
    assert json.loads(out)["error"]["code"] == "invalid_input"


def test_dlq_lists_and_requeues(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = ["--data-dir", str(tmp_path / "data")]
    code, out, _ = _run(capsys, *data, "dlq")
    assert code == EXIT_OK and "no dead letters" in out
    code, out, _ = _run(
        capsys, *data, "submit", "--text", "crash", "--app", "echo", "--timeout", "60"
    )
    assert code == EXIT_JOB_FAILED and json.loads(out)["error"]["code"] == "exhausted_retries"
    # The dead-letter handler runs alongside the pipeline; give it a moment to record.
    records: list[dict[str, object]] = []
    for _ in range(100):
        _run(capsys, *data, "dlq")
        code, out, _ = _run(capsys, *data, "dlq", "--json")
        records = json.loads(out)
        if records:
            break
        _run(
            capsys, *data, "submit", "--text", "hello", "--app", "echo"
        )  # runs the handler in-process
    assert len(records) == 1 and records[0]["subscription"] == "tributary-infer"
    code, _, err = _run(capsys, *data, "dlq", "requeue", str(records[0]["id"]))
    assert code == EXIT_OK and "requeued" in err
    code, _, err = _run(capsys, *data, "dlq", "requeue", str(records[0]["id"]))
    assert code == EXIT_USAGE and "already_requeued" in err


def test_usage_errors_say_what_to_do(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = ["--data-dir", str(tmp_path / "data")]
    code, _, err = _run(capsys, *data, "submit", "--app", "echo")
    assert code == EXIT_USAGE and "FILE" in err
    code, _, err = _run(capsys, *data, "dlq", "requeue", "nope")
    assert code == EXIT_USAGE and "not_found" in err
    code, _, err = _run(capsys, *data, "job", "nope")
    assert code == EXIT_USAGE and "not_found" in err
