"""cloudbuild.yaml deploys every entry point of main.py with its trigger, and nothing else."""

from __future__ import annotations

import importlib.util
import inspect
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tributary.functions import TRIGGERS, Trigger

ROOT = Path(__file__).resolve().parents[2]


def _entry_points() -> set[str]:
    """The public functions main.py defines (loaded under a name of its own)."""
    spec = importlib.util.spec_from_file_location("main_entry_points", ROOT / "main.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return {
        name
        for name, value in vars(module).items()
        if inspect.isfunction(value) and value.__module__ == module.__name__
    }


def _deploys() -> dict[str, dict[str, Any]]:
    """entry point -> {"name": deployed name, "flags": {flag: [values]}} of each deploy step."""
    build = yaml.safe_load((ROOT / "cloudbuild.yaml").read_text())
    deploys: dict[str, dict[str, Any]] = {}
    for step in build["steps"]:
        args = [str(arg) for arg in step.get("args", [])]
        if step.get("entrypoint") != "gcloud" or args[:2] != ["functions", "deploy"]:
            continue
        flags: dict[str, list[str]] = {}
        for arg in args[3:]:
            flag, _, value = arg.partition("=")
            flags.setdefault(flag, []).append(value)
        [entry_point] = flags["--entry-point"]
        assert entry_point not in deploys, f"{entry_point} is deployed twice"
        deploys[entry_point] = {"name": args[2], "flags": flags, "step": step}
    return deploys


DEPLOYS = _deploys()


def test_every_entry_point_is_deployed_and_nothing_else() -> None:
    assert _entry_points() == set(TRIGGERS) == set(DEPLOYS)


EVENT_KINDS = frozenset({"bucket", "firestore", "topic"})


def _trigger_flags(trigger: Trigger) -> dict[str, list[str]]:
    if trigger.kind in ("http", "schedule"):
        return {"--trigger-http": [""]}
    if trigger.kind == "bucket":
        return {"--trigger-bucket": ["${_BUCKET}"]}
    if trigger.kind == "topic":
        return {"--trigger-topic": [str(trigger.resource)]}
    return {
        "--trigger-event-filters": [
            "type=google.cloud.firestore.document.v1.created",
            "database=(default)",
        ],
        "--trigger-event-filters-path-pattern": [f"document={trigger.resource}"],
    }


@pytest.mark.parametrize("entry_point", sorted(TRIGGERS))
def test_each_function_is_deployed_with_its_trigger(entry_point: str) -> None:
    flags = DEPLOYS[entry_point]["flags"]
    expected = _trigger_flags(TRIGGERS[entry_point])
    given = {flag: values for flag, values in flags.items() if flag.startswith("--trigger-")}
    given.pop("--trigger-service-account", None)
    given.pop("--trigger-location", None)
    assert given == expected
    if TRIGGERS[entry_point].kind == "firestore":
        assert flags["--trigger-location"] == ["${_FIRESTORE_LOCATION}"]


@pytest.mark.parametrize("entry_point", sorted(TRIGGERS))
def test_each_function_is_a_sized_2nd_gen_python_function(entry_point: str) -> None:
    flags = DEPLOYS[entry_point]["flags"]
    assert flags["--gen2"] == [""] and flags["--runtime"] == ["python311"]
    assert flags["--region"] == ["${_REGION}"] and flags["--source"] == ["build/function"]
    assert flags["--env-vars-file"] == ["build/env.yaml"]
    assert re.fullmatch(r"\d+(Mi|Gi)", flags["--memory"][0])
    assert re.fullmatch(r"\d+s", flags["--timeout"][0])
    kind = TRIGGERS[entry_point].kind
    # Event-driven functions answer an error status to be retried; without --retry
    # the platform would drop the event instead.
    assert ("--retry" in flags) == (kind in EVENT_KINDS)
    # Only the api is public; a scheduled function is explicitly private.
    assert ("--allow-unauthenticated" in flags) == (kind == "http")
    assert ("--no-allow-unauthenticated" in flags) == (kind == "schedule")


def _memory_mib(entry_point: str) -> int:
    amount = DEPLOYS[entry_point]["flags"]["--memory"][0]
    return int(amount[:-2]) * (1024 if amount.endswith("Gi") else 1)


def test_functions_are_sized_for_what_they_hold_in_memory() -> None:
    assert _memory_mib("preprocess") < _memory_mib("infer") < _memory_mib("lookup")


def test_the_topology_script_names_the_deployed_functions() -> None:
    script = (ROOT / "deploy" / "topology.sh").read_text()
    policed = set(re.findall(r"\[(tributary-[a-z-]+)\]=(?:yes|no)", script))
    policed.add(re.search(r"DEAD_LETTER_FUNCTION=(\S+)", script)[1])  # type: ignore[index]
    event_driven = {
        DEPLOYS[name]["name"] for name, trigger in TRIGGERS.items() if trigger.kind in EVENT_KINDS
    }
    assert policed == event_driven
    # The jobs subscription (preprocess) is the one that retains acked messages.
    assert f"[{DEPLOYS['preprocess']['name']}]=yes" in script


SCHEDULED = sorted(name for name, trigger in TRIGGERS.items() if trigger.kind == "schedule")


@pytest.mark.parametrize("entry_point", SCHEDULED)
def test_a_scheduled_function_gets_its_scheduler_job_on_its_schedule(entry_point: str) -> None:
    build = yaml.safe_load((ROOT / "cloudbuild.yaml").read_text())
    deploy = DEPLOYS[entry_point]
    [schedule] = [s for s in build["steps"] if s.get("args") == ["deploy/schedule.sh"]]
    assert schedule["waitFor"] == [deploy["step"]["id"]]
    assert build["substitutions"]["_WATCHDOG_SCHEDULE"] == TRIGGERS[entry_point].resource
    script = (ROOT / "deploy" / "schedule.sh").read_text()
    assert re.search(r"^FUNCTION=(\S+)$", script, re.M)[1] == deploy["name"]  # type: ignore[index]
    # Called with an OIDC token of the one account that may invoke it.
    assert '--oidc-service-account-email="$SCHEDULER_SA"' in script
    assert '--member="serviceAccount:$SCHEDULER_SA"' in script


def test_tests_gate_the_deployment() -> None:
    build = yaml.safe_load((ROOT / "cloudbuild.yaml").read_text())
    ids = [step["id"] for step in build["steps"]]
    assert ids[:4] == ["install", "lint", "unit-tests", "emulator-tests"]
    for step in build["steps"][4:]:
        # Steps without waitFor start after every earlier step; none may skip the tests.
        assert step.get("waitFor") != ["-"]
