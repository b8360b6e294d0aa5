"""Watch one document of the configured backend; print each change as a JSON line.

Usage: watch_document.py PATH COUNT. The backend comes from the TRIBUTARY_*
environment. Prints the initial state first, then exits after COUNT changes.
"""

from __future__ import annotations

import json
import queue
import sys

from tributary.backend import open_backend
from tributary.config import load_settings
from tributary.ports import Change


def main() -> int:
    path, count = sys.argv[1], int(sys.argv[2])
    changes: queue.Queue[Change] = queue.Queue()
    backend = open_backend(load_settings())
    watch = backend.documents.watch(path, changes.put)
    for seen in range(count + 1):
        try:
            change = changes.get(timeout=30)
        except queue.Empty:
            print(f"gave up after {seen} changes", file=sys.stderr)
            return 1
        print(json.dumps({"kind": change.kind, "data": change.data}), flush=True)
    watch.close()
    backend.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
