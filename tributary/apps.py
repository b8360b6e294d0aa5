"""The App interface and the one registry of apps.

An app is three functions over plain values: ``preprocess`` (decode, validate,
extract), ``infer`` (run the model, loaded once per process) and ``lookup``
(labels, thresholds, nearest neighbours). Payloads are dicts of JSON values and
numpy arrays; :mod:`tributary.payloads` carries them between stages.

Adding a model is adding a folder under ``apps/`` and a line in ``REGISTRY``.
"""

from __future__ import annotations

import importlib
import logging
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from schemas import BlobInput, BlobRef, ModelRef, TextInput
from tributary.config import Settings
from tributary.errors import PermanentError

Payload = dict[str, Any]

# name -> "module:Class". Imported lazily so one app's heavy imports never slow another.
REGISTRY: dict[str, str] = {
    "cough": "apps.cough.app:CoughApp",
    "text2brain": "apps.text2brain.app:Text2BrainApp",
}


@dataclass(frozen=True)
class StageContext:
    """What a stage function may use besides its input."""

    job_id: str
    settings: Settings
    # Read an input object, refusing more than the given number of bytes.
    read_blob: Callable[[BlobRef, int], bytes]
    log: logging.LoggerAdapter[logging.Logger]
    # Store an output file (a map, a picture) under results/{job_id}/{run}/{name}.
    write_blob: Callable[[str, bytes, str], BlobRef] | None = None
    run: int = 1
    # The model version this job's run uses (taken when the run started); None
    # outside the pipeline, where the app serves its current version.
    model_version: str | None = None


class App(ABC):
    """One model served by the pipeline. Instances live for the whole process."""

    name: ClassVar[str]
    # Which job inputs the app accepts: "blob" (an upload) and/or "text".
    input_kinds: ClassVar[frozenset[str]]
    # Content types an upload may declare at the HTTP edge (exact, or a prefix ending
    # in "/"); empty accepts any. The worker checks the bytes themselves regardless.
    upload_content_types: ClassVar[tuple[str, ...]] = ()

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @abstractmethod
    def model_info(self) -> ModelRef:
        """The model version this process serves (recorded on every job)."""

    def warm(self, version: str | None = None) -> None:  # noqa: B027 - optional hook
        """Load model ``version`` (the current one by default) now, not on the first request."""

    def cache_key(self, job_input: BlobInput | TextInput) -> str | None:
        """A key under which this input's result may be reused, or None (not cacheable)."""
        return None

    def comparable(self, result: dict[str, Any]) -> dict[str, Any]:
        """What a replay compares between two runs' results, by name ("changed" means these)."""
        return {key: value for key, value in result.items() if key not in ("model", "cache")}

    @abstractmethod
    def preprocess(self, job_input: BlobInput | TextInput, ctx: StageContext) -> Payload:
        """Decode and validate the input; return features. Raise PermanentError on bad input."""

    @abstractmethod
    def infer(self, features: Payload, ctx: StageContext) -> Payload:
        """Run the model on the features."""

    @abstractmethod
    def lookup(self, prediction: Payload, ctx: StageContext) -> dict[str, Any]:
        """Turn a prediction into the JSON result written on the job."""


class UnknownApp(PermanentError):
    code = "unknown_app"


_instances: dict[tuple[str, Settings], App] = {}
_lock = threading.Lock()


def app_names() -> list[str]:
    return sorted(REGISTRY)


def get_app(name: str, settings: Settings) -> App:
    """The process-wide instance of app ``name`` for these settings."""
    target = REGISTRY.get(name)
    if target is None:
        known = ", ".join(app_names())
        raise UnknownApp(f"unknown app {name!r}; registered apps: {known}")
    key = (name, settings)
    with _lock:
        app = _instances.get(key)
        if app is None:
            module_name, class_name = target.split(":")
            cls: type[App] = getattr(importlib.import_module(module_name), class_name)
            app = cls(settings)
            _instances[key] = app
        return app
