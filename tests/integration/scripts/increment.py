"""Increment ``counters/c`` COUNT times in transactions, retrying the ones that lose a race.

Usage: increment.py COUNT. The backend comes from the TRIBUTARY_* environment.
Prints one JSON line: how many increments committed and which errors were retried.
"""

from __future__ import annotations

import json
import sys
from collections import Counter

from tributary.backend import open_backend
from tributary.config import load_settings
from tributary.errors import TransientError


def main() -> int:
    count = int(sys.argv[1])
    documents = open_backend(load_settings()).documents
    committed, retried = 0, Counter[str]()
    while committed < count:
        try:
            with documents.transaction() as txn:
                current = txn.get("counters/c") or {"n": 0}
                txn.set("counters/c", {"n": current["n"] + 1})
        except TransientError as exc:
            retried[exc.code] += 1
            continue
        committed += 1
    print(json.dumps({"committed": committed, "retried": dict(retried)}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
