"""Write COUNT successive states {"n": 1..COUNT} to one document of the configured backend.

Usage: write_document.py PATH COUNT. The backend comes from the TRIBUTARY_* environment.
"""

from __future__ import annotations

import sys

from tributary.backend import open_backend
from tributary.config import load_settings


def main() -> int:
    path, count = sys.argv[1], int(sys.argv[2])
    backend = open_backend(load_settings())
    for n in range(1, count + 1):
        backend.documents.set(path, {"n": n})
    backend.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
