"""A serving process never imports TensorFlow, Keras or librosa (its cold start is in bench/)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from apps.cough.app import CoughApp
from apps.cough.synth import synth_clip
from schemas import BlobInput
from tests import audiofiles
from tributary.apps import StageContext
from tributary.config import Settings

# Everything a worker does for its first cough, in a fresh interpreter.
FIRST_PREDICTION = """
import time
started = time.perf_counter()
import json, logging, sys
from pathlib import Path
from apps.cough.app import CoughApp
from schemas import BlobInput
from tributary.apps import StageContext
from tributary.config import Settings

data = Path(sys.argv[1]).read_bytes()
settings = Settings(data_dir=Path(sys.argv[2]), models_dir=Path(sys.argv[3]))
app = CoughApp(settings)
ctx = StageContext(job_id="j", settings=settings, read_blob=lambda ref, limit: data,
                   log=logging.LoggerAdapter(logging.getLogger("serving"), {}))
upload = BlobInput(bucket="uploads", name="j.webm", size=len(data))
result = app.lookup(app.infer(app.preprocess(upload, ctx), ctx), ctx)
elapsed = time.perf_counter() - started
heavy = [m for m in ("tensorflow", "keras", "librosa", "scipy", "numba") if m in sys.modules]
print(json.dumps({"result": result, "seconds": elapsed, "heavy": heavy}))
"""


def test_first_prediction_in_a_fresh_process_is_tensorflow_free(
    cough_app: CoughApp,
    trained_settings: Settings,
    context_for: Callable[[Settings, bytes], StageContext],
    tmp_path: Path,
) -> None:
    data = audiofiles.encode(synth_clip("wet", 77, seconds=5.0), 16000, "webm_opus")
    upload = tmp_path / "cough.webm"
    upload.write_bytes(data)
    args = [str(upload), str(trained_settings.data_dir), str(trained_settings.model_root)]

    completed = subprocess.run(
        [sys.executable, "-c", FIRST_PREDICTION, *args],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    report = json.loads(completed.stdout.strip().splitlines()[-1])

    assert report["heavy"] == []
    ctx = context_for(trained_settings, data)
    upload_input = BlobInput(bucket="uploads", name="j.webm", size=len(data))
    in_process = cough_app.lookup(
        cough_app.infer(cough_app.preprocess(upload_input, ctx), ctx), ctx
    )
    assert report["result"] == in_process
