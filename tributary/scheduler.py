"""A local stand-in for Cloud Scheduler: POST to a function's URL at a fixed interval.

On Google Cloud, a Cloud Scheduler job calls the ``watchdog`` function every minute
(``deploy/schedule.sh``). The emulator stack has no scheduler, so
:class:`tributary.functions_stack.FunctionsStack` runs one of these per scheduled
function: a daemon thread that calls the function the same way (an HTTP POST), so
the function under test is the one deployed.
"""

from __future__ import annotations

import logging
import threading
import urllib.error
import urllib.request

from tributary.logs import event

_log = logging.getLogger("tributary.scheduler")
_REQUEST_TIMEOUT_S = 120.0


class Scheduler:
    """POSTs to ``url`` every ``interval_s`` seconds until stopped."""

    def __init__(self, function: str, url: str, interval_s: float) -> None:
        self.function, self.url, self.interval_s = function, url, interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._loop, name=f"scheduler-{function}", daemon=True
        )

    def start(self) -> Scheduler:
        self._thread.start()
        return self

    def run_once(self) -> int:
        """One call, as a scheduler job's run; the HTTP status (0 if nothing answered)."""
        request = urllib.request.Request(self.url, data=b"", method="POST")
        try:
            with urllib.request.urlopen(request, timeout=_REQUEST_TIMEOUT_S) as response:
                return int(response.status)
        except urllib.error.HTTPError as exc:
            event(_log, "schedule_failed", logging.WARNING, function=self.function, error=exc)
            return int(exc.code)
        except (urllib.error.URLError, OSError) as exc:
            event(_log, "schedule_failed", logging.WARNING, function=self.function, error=exc)
            return 0

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(_REQUEST_TIMEOUT_S)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.run_once()
