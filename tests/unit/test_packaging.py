"""What a deployed function installs matches what the package declares for serving."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _names(requirements: list[str]) -> set[str]:
    return {re.split(r"[<>=!~\[ ;]", line.strip(), maxsplit=1)[0].lower() for line in requirements}


def test_deploy_requirements_are_the_serving_and_gcp_dependencies() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = _names(project["dependencies"]) | _names(project["optional-dependencies"]["gcp"])
    lines = (ROOT / "deploy" / "requirements.txt").read_text().splitlines()
    deployed = _names([line for line in lines if line.strip() and not line.startswith(("#", "-"))])
    assert deployed == declared


def test_serving_never_installs_a_training_framework() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    serving = _names(project["dependencies"]) | _names(project["optional-dependencies"]["gcp"])
    assert not serving & {"tensorflow", "tensorflow-cpu", "torch", "librosa", "transformers"}
