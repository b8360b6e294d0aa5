"""Listen to one job document until it is final, printing every change as a JSON line.

Usage: watch_job.py JOB_ID TIMEOUT_S. The backend comes from the TRIBUTARY_*
environment (the gcp backend on the emulators: a Firestore ``on_snapshot``
listener). The first line is ``{"ready": true}`` once the listener has its first
snapshot; then one line per change: kind, state, whether a result is set, seq.
Exits 0 when the job is final, 1 on timeout.
"""

from __future__ import annotations

import json
import sys
import threading

from tributary import jobs
from tributary.backend import open_backend
from tributary.config import load_settings
from tributary.ports import Change


def main() -> int:
    job_id, timeout = sys.argv[1], float(sys.argv[2])
    backend = open_backend(load_settings())
    final = threading.Event()

    def on_change(change: Change) -> None:
        data = change.data or {}
        if change.kind == "snapshot":
            print(json.dumps({"ready": True}), flush=True)
        if change.data is not None:
            line = {"kind": change.kind, "state": data.get("state"), "seq": change.seq}
            line["has_result"] = data.get("result") is not None
            print(json.dumps(line), flush=True)
        if data.get("state") in jobs.TERMINAL_STATES:
            final.set()

    watch = backend.documents.watch(jobs.job_path(job_id), on_change)
    try:
        return 0 if final.wait(timeout) else 1
    finally:
        watch.close()
        backend.close()


if __name__ == "__main__":
    sys.exit(main())
