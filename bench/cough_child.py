"""Child processes of the cough benchmark (each measured from a fresh interpreter).

``cold FILE``    fresh process → first cough result, through the app's three stages.
``worker N``     a worker running every stage on the embedded backend until N jobs
                 finished (submitted beforehand); reports its peak memory.
Settings come from the environment (TRIBUTARY_DATA_DIR, TRIBUTARY_MODELS_DIR).
"""

from __future__ import annotations

import sys as _sys
from pathlib import Path as _Path

_sys.path.insert(0, str(_Path(__file__).resolve().parents[1]))

import json
import logging
import sys
import time

STARTED = time.perf_counter()


def _peak_mib() -> float:
    from bench.common import peak_rss_mib

    return peak_rss_mib()


def cold(file: str) -> None:
    from apps.cough.app import CoughApp
    from schemas import BlobInput
    from tributary.apps import StageContext
    from tributary.config import load_settings

    settings = load_settings()
    data = open(file, "rb").read()  # noqa: SIM115
    app = CoughApp(settings)
    ctx = StageContext(
        job_id="bench",
        settings=settings,
        read_blob=lambda _ref, _limit: data,
        log=logging.LoggerAdapter(logging.getLogger("bench"), {}),
    )
    blob = BlobInput(bucket="b", name="uploads/u/cough/x.webm", size=len(data))
    result = app.lookup(app.infer(app.preprocess(blob, ctx), ctx), ctx)
    print(
        json.dumps(
            {
                "first_result_s": time.perf_counter() - STARTED,
                "label": result["label"],
                "tensorflow_imported": "tensorflow" in sys.modules,
                "peak_rss_mib": _peak_mib(),
            }
        )
    )


def worker(count: int) -> None:
    from tributary.backend import open_backend
    from tributary.config import load_settings
    from tributary.runner import Runner
    from tributary.topology import JOBS_COLLECTION

    settings = load_settings()
    backend = open_backend(settings)
    with Runner(backend, watchdog_enabled=False):
        while True:
            done = backend.documents.query(JOBS_COLLECTION, where=[("state", "==", "succeeded")])
            if len(done) >= count:
                break
            time.sleep(0.05)
    print(json.dumps({"processed": count, "peak_rss_mib": _peak_mib()}))


if __name__ == "__main__":
    if sys.argv[1] == "cold":
        cold(sys.argv[2])
    elif sys.argv[1] == "worker":
        worker(int(sys.argv[2]))
    else:
        sys.exit(__doc__)
