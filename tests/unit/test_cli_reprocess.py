"""`tributary models | replay | backfill` in-process, on the echo app."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.unit.test_registry import _build
from tributary import runs
from tributary.backend import open_backend
from tributary.cli import main
from tributary.cli_reprocess import parse_when
from tributary.config import load_settings
from tributary.errors import ConfigError


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    monkeypatch.setenv("TRIBUTARY_MODEL_REFRESH_S", "0")
    settings = load_settings({}, data_dir=tmp_path / "data")
    for version in ("e1", "e2"):
        _build(settings, "echo", version)
    return ["--data-dir", str(tmp_path / "data")]


def _submit(capsys: pytest.CaptureFixture[str], data: list[str], tmp_path: Path, n: int) -> None:
    for i in range(n):
        upload = tmp_path / f"clip{i}.txt"
        upload.write_text(f"clip number {i}")
        code, _out, _err = _run(capsys, *data, "submit", str(upload), "--app", "echo")
        assert code == 0


def test_models_promote_list_and_rollback(
    data: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(capsys, *data, "models", "promote", "echo", "e1")[0] == 0
    code, _out, err = _run(capsys, *data, "models", "promote", "echo", "e2")
    assert code == 0 and "e2 is active (was e1)" in err
    code, out, _err = _run(capsys, *data, "models", "list", "echo")
    rows = [line.split("\t") for line in out.splitlines()]
    assert [(r[1], r[2]) for r in rows] == [("e1", ""), ("e2", "active")]
    code, _out, err = _run(capsys, *data, "models", "rollback", "echo")
    assert code == 0 and "rolled back to e1" in err
    code, _out, err = _run(capsys, *data, "models", "promote", "echo", "e9")
    assert code == 2 and "model_unavailable" in err


def test_replay_dry_run_then_replay_with_a_summary(
    data: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _run(capsys, *data, "models", "promote", "echo", "e1")
    _submit(capsys, data, tmp_path, 4)
    _run(capsys, *data, "models", "promote", "echo", "e2")
    code, out, err = _run(capsys, *data, "replay", "--app", "echo", "--stale", "--dry-run")
    assert code == 0 and out.strip() == "echo\tsucceeded\te1\t4"
    assert "4 jobs would run again" in err
    code, out, err = _run(capsys, *data, "replay", "--app", "echo", "--stale")
    assert code == 0, err
    summary = json.loads(out)
    assert (summary["restarted"], summary["succeeded"], summary["versions"]) == (4, 4, {"e2": 4})
    assert re.search(r"restarting \[#+\] 4/4", err) and "changed: versions 4" in err
    code, out, err = _run(capsys, *data, "replay", "--app", "echo", "--stale", "--dry-run")
    assert out == "" and "0 jobs would run again" in err


def test_replay_seek_reruns_what_a_new_model_changed(
    data: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _run(capsys, *data, "models", "promote", "echo", "e1")
    code, _out, err = _run(capsys, *data, "replay", "--snapshot", "start")
    assert code == 0 and "snapshot start" in err
    _submit(capsys, data, tmp_path, 3)
    _run(capsys, *data, "models", "promote", "echo", "e2")
    code, _out, err = _run(capsys, *data, "replay", "--seek", "start")
    assert code == 0 and "3 messages redelivered" in err, err
    assert "every redelivered message handled" in err  # ran here: no dev stack
    backend = open_backend(load_settings({}, data_dir=Path(data[1])))
    try:
        rows = [d for _id, d in backend.documents.query("jobs") if d.get("run_origin") == "seek"]
        assert len(rows) == 3 and all(d["model"]["version"] == "e2" for d in rows)
        assert all(len(runs.history(backend.documents, d["job_id"])) == 1 for d in rows)
    finally:
        backend.close()


def test_backfill_reports_counts_and_resumes_to_nothing(
    data: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    backend = open_backend(load_settings({}, data_dir=Path(data[1])))
    for i in range(5):
        backend.blobs.put(f"legacy/{i}.txt", b"old")
    backend.close()
    code, out, err = _run(capsys, *data, "backfill", "--prefix", "legacy/")
    assert code == 0 and json.loads(out) == {"skipped": 5}
    assert "use --app" in err
    code, out, _err = _run(capsys, *data, "backfill", "--prefix", "legacy/", "--app", "echo")
    assert code == 0 and json.loads(out) == {"created": 5}
    code, out, err = _run(capsys, *data, "backfill", "--prefix", "legacy/", "--app", "echo")
    assert json.loads(out) == {"created": 5}  # resumed after the last object: nothing new
    code, out, _err = _run(
        capsys, *data, "backfill", "--prefix", "legacy/", "--app", "echo", "--fresh"
    )
    assert json.loads(out) == {"existing": 5}


def test_times_are_iso_or_ages() -> None:
    now = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
    assert parse_when("36h", now) == "2026-11-21T00:00:00.000000Z"
    assert parse_when("2026-11-01T00:00:00Z", now) == "2026-11-01T00:00:00.000000Z"
    assert parse_when("2026-11-01", now) == "2026-11-01T00:00:00.000000Z"
    assert parse_when(None, now) is None
    with pytest.raises(ConfigError):
        parse_when("yesterday", now)


def test_bad_requests_get_their_error_codes(
    data: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _out, err = _run(capsys, *data, "replay", "--resume", "nope")
    assert code == 2 and "error: not_found:" in err
    assert _run(capsys, *data, "replay", "--snapshot", "once")[0] == 0
    code, _out, err = _run(capsys, *data, "replay", "--snapshot", "once")
    assert code == 2 and "error: already_exists:" in err
    code, _out, err = _run(capsys, *data, "replay", "--seek", "no-such-snapshot")
    assert code == 2 and "error: not_found:" in err
    empty = tmp_path / "not-a-model"
    empty.mkdir()
    code, _out, err = _run(capsys, *data, "models", "add", "echo", "v3", "--path", str(empty))
    assert code == 2 and "error: config_error:" in err and "meta.json" in err
    code, _out, err = _run(capsys, *data, "replay", "--since", "last tuesday", "--dry-run")
    assert code == 2 and "error: config_error:" in err
