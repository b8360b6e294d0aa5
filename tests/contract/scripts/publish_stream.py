"""Publish numbered messages until told to stop; may be killed at any moment.

Usage: publish_stream.py TOPIC IDS_FILE STOP_FILE. The backend comes from the
TRIBUTARY_* environment. Exits cleanly once STOP_FILE exists. Each message id is appended to IDS_FILE and fsync'd
only after ``publish`` returned it, so the file lists messages the bus owes.
A restarted publisher continues from the count already recorded.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from tributary.backend import open_backend
from tributary.config import load_settings


def _recorded(path: Path) -> int:
    """Lines recorded so far; drops a torn last line left by a kill."""
    if not path.exists():
        return 0
    raw = path.read_bytes()
    complete = raw[: raw.rfind(b"\n") + 1]
    if complete != raw:
        with path.open("r+b") as handle:
            handle.truncate(len(complete))
    return complete.count(b"\n")


def main() -> int:
    topic, ids_file, stop_file = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    bus = open_backend(load_settings()).bus
    seq = _recorded(ids_file)
    fd = os.open(ids_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    while not stop_file.exists():
        message_id = bus.publish(topic, f"message {seq}".encode(), {"seq": str(seq)})
        os.write(fd, f"{message_id}\n".encode())
        os.fsync(fd)
        seq += 1
        time.sleep(0.003)
    os.close(fd)
    return 0


if __name__ == "__main__":
    sys.exit(main())
