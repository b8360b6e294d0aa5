"""A progress bar with a rate and an ETA, for long commands (replay, backfill).

On a terminal it redraws one line; elsewhere (CI logs, pipes) it prints a line
every ``every_s`` seconds, so logs stay short and still show movement.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

_WIDTH = 28


def format_duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


class ProgressBar:
    def __init__(
        self,
        label: str,
        total: int | None,
        *,
        stream: TextIO | None = None,
        every_s: float = 2.0,
        done: int = 0,
    ) -> None:
        self.label = label
        self.total = total
        self.stream = stream or sys.stderr
        self.done = done
        self._start_done = done
        self._started = time.monotonic()
        self._last = 0.0
        self._tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._every = 0.1 if self._tty else every_s

    def advance(self, n: int = 1, note: str = "") -> None:
        self.update(self.done + n, note)

    def update(self, done: int, note: str = "") -> None:
        self.done = done
        now = time.monotonic()
        if now - self._last >= self._every:
            self._last = now
            self._draw(note)

    def line(self, note: str = "") -> str:
        elapsed = time.monotonic() - self._started
        rate = (self.done - self._start_done) / elapsed if elapsed > 0 else 0.0
        if self.total:
            fraction = min(1.0, self.done / self.total)
            filled = int(fraction * _WIDTH)
            bar = "#" * filled + "-" * (_WIDTH - filled)
            left = (self.total - self.done) / rate if rate > 0 else float("nan")
            eta = format_duration(left) if left == left else "--:--"
            text = (
                f"{self.label} [{bar}] {self.done}/{self.total} {fraction:4.0%} "
                f"{rate:6.1f}/s ETA {eta}"
            )
        else:
            text = f"{self.label} {self.done} {rate:6.1f}/s"
        return f"{text}  {note}".rstrip()

    def close(self, note: str = "") -> None:
        self._draw(note)
        if self._tty:
            self.stream.write("\n")
            self.stream.flush()

    def _draw(self, note: str) -> None:
        text = self.line(note)
        if self._tty:
            self.stream.write("\r\x1b[2K" + text)
        else:
            self.stream.write(text + "\n")
        self.stream.flush()


class RateLimiter:
    """At most ``per_second`` calls of :meth:`wait` per second (0 means no limit)."""

    def __init__(self, per_second: float) -> None:
        self.interval = 1.0 / per_second if per_second > 0 else 0.0
        self._next = time.monotonic()

    def wait(self) -> None:
        if not self.interval:
            return
        now = time.monotonic()
        if self._next > now:
            time.sleep(self._next - now)
        self._next = max(self._next, now) + self.interval
