"""Small real apps for testing the pipeline itself, independent of any model.

``echo`` reads its input (blob or text) and returns its length; its behaviour
can be steered per job through the input text or the object's bytes:
``fail:permanent`` raises a permanent error; ``flaky:N`` fails transiently on the
first N attempts of inference; ``crash`` raises a plain exception every time.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any, ClassVar

import numpy as np

from schemas import BlobInput, ModelRef, TextInput
from tributary.apps import App, Payload, StageContext
from tributary.errors import PermanentError, TransientError

# How often each (job_id, stage) ran, across all instances in this process.
CALLS: Counter[tuple[str, str]] = Counter()
_lock = threading.Lock()


def reset() -> None:
    with _lock:
        CALLS.clear()


def _count(job_id: str, stage: str) -> int:
    with _lock:
        CALLS[(job_id, stage)] += 1
        return CALLS[(job_id, stage)]


class EchoApp(App):
    name = "echo"
    input_kinds: ClassVar[frozenset[str]] = frozenset({"blob", "text"})

    def model_info(self) -> ModelRef:
        return ModelRef(name="echo", version="v1")

    def preprocess(self, job_input: BlobInput | TextInput, ctx: StageContext) -> Payload:
        _count(ctx.job_id, "preprocess")
        if isinstance(job_input, TextInput):
            text = job_input.text
        else:
            text = ctx.read_blob(job_input.ref, ctx.settings.max_upload_bytes).decode(
                "utf-8", "replace"
            )
        if text.startswith("fail:permanent"):
            raise PermanentError("the echo input asked to fail", code="invalid_input")
        features: Payload = {"text": text, "vector": np.arange(4, dtype=np.float32)}
        if ctx.model_version is not None:  # a registered version: each stage reports its own
            features["versions"] = [ctx.model_version]
        return features

    def infer(self, features: Payload, ctx: StageContext) -> Payload:
        attempt = _count(ctx.job_id, "inference")
        text: str = features["text"]
        if text.startswith("flaky:") and attempt <= int(text.split(":")[1]):
            raise TransientError(f"flaky failure {attempt}")
        if text.startswith("crash"):
            raise RuntimeError("boom")
        prediction: Payload = {"length": len(text), "sum": float(np.sum(features["vector"]))}
        if "versions" in features:
            prediction["versions"] = [*features["versions"], ctx.model_version]
        return prediction

    def lookup(self, prediction: Payload, ctx: StageContext) -> dict[str, Any]:
        _count(ctx.job_id, "lookup")
        result = {"length": prediction["length"], "sum": prediction["sum"]}
        if "versions" in prediction:  # the version each stage was given: never two in one run
            result["versions"] = [*prediction["versions"], ctx.model_version]
        return result
