"""A serving process starts fast because it never imports torch or transformers."""

from __future__ import annotations

import json
import subprocess
import sys
import time

from apps.text2brain.app import Text2BrainApp
from schemas import TextInput
from tests.unit.text2brain.conftest import Recorder
from tributary.config import Settings

# Everything a worker does for its first query, in a fresh interpreter.
FIRST_RESULT = """
import time
started = time.perf_counter()
import json, logging, sys
from pathlib import Path
from apps.text2brain.app import Text2BrainApp
from schemas import BlobRef, TextInput
from tributary.apps import StageContext
from tributary.config import Settings

settings = Settings(data_dir=Path(sys.argv[1]), models_dir=Path(sys.argv[2]))
app = Text2BrainApp(settings)
written = {}
def write_blob(name, data, content_type):
    written[name] = len(data)
    return BlobRef(bucket="results", name=f"results/job-1/1/{name}", generation=7)
ctx = StageContext(job_id="job-1", settings=settings, read_blob=lambda ref, limit: b"",
                   log=logging.LoggerAdapter(logging.getLogger("serving"), {}),
                   write_blob=write_blob)
result = app.lookup(app.infer(app.preprocess(TextInput(text=sys.argv[3]), ctx), ctx), ctx)
elapsed = time.perf_counter() - started
heavy = [m for m in ("torch", "transformers", "sentence_transformers", "numba", "onnx", "nilearn")
         if m in sys.modules]
print(json.dumps({"result": result, "seconds": elapsed, "heavy": heavy, "written": written}))
"""


def test_first_result_in_a_fresh_process_is_fast_and_torch_free(
    t2b_app: Text2BrainApp, trained_settings: Settings, recorder: Recorder
) -> None:
    query = "Episodic memory"
    args = [str(trained_settings.data_dir), str(trained_settings.model_root), query]

    started = time.perf_counter()
    completed = subprocess.run(
        [sys.executable, "-c", FIRST_RESULT, *args],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    wall = time.perf_counter() - started
    report = json.loads(completed.stdout.strip().splitlines()[-1])
    print(f"fresh process → first result: {wall:.2f} s wall, {report['seconds']:.2f} s after start")

    assert report["heavy"] == []
    assert set(report["written"]) == {"map.nii.gz", "preview.png"}
    ctx = recorder.context()
    in_process = t2b_app.lookup(
        t2b_app.infer(t2b_app.preprocess(TextInput(text=query), ctx), ctx), ctx
    )
    assert report["result"] == in_process
    # Typically ≈1.5 s from interpreter start; the bound leaves room for a busy machine.
    assert wall < 4.0, wall
