"""Pull, record and acknowledge messages of one subscription; may be killed at any moment.

Usage: consume_stream.py SUBSCRIPTION IDS_FILE [IDLE_EXIT_S]. The backend comes
from the TRIBUTARY_* environment. Each message id is appended to IDS_FILE and
fsync'd before the message is acknowledged (at-least-once: a kill between the
two means the message comes back and is recorded again). With IDLE_EXIT_S, exits
once nothing arrived for that long; otherwise runs until killed.
"""

from __future__ import annotations

import os
import sys
import time

from tributary.backend import open_backend
from tributary.config import load_settings


def main() -> int:
    subscription, ids_file = sys.argv[1], sys.argv[2]
    idle_exit_s = float(sys.argv[3]) if len(sys.argv) > 3 else None
    bus = open_backend(load_settings()).bus
    fd = os.open(ids_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    last_seen = time.monotonic()
    while idle_exit_s is None or time.monotonic() - last_seen < idle_exit_s:
        messages = bus.pull(subscription, max_messages=10, timeout=0.1)
        for message in messages:
            time.sleep(0.004)  # the work: slower than the publisher, so a kill finds leases held
            os.write(fd, f"{message.message_id}\n".encode())
            os.fsync(fd)
            bus.ack(subscription, [message.ack_id])
        if messages:
            last_seen = time.monotonic()
    os.close(fd)
    return 0


if __name__ == "__main__":
    sys.exit(main())
