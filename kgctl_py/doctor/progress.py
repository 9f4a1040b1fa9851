"""A progress line for long steps: the step, the count, the rate and the ETA.

It only formats; where the line goes (a terminal's stderr, or nowhere) is the
caller's ``show``.  A dozen lines, so no progress-bar library.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


def _duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


class Meter:
    def __init__(self, show: Callable[[str], None], step: str, total: int, unit: str, clock: Callable[[], float] = time.monotonic, every: float = 0.2) -> None:
        self.show, self.step, self.total, self.unit = show, step, total, unit
        self.clock, self.every = clock, every
        self.started = clock()
        self.last = float("-inf")
        self.done = 0
        self.lock = threading.Lock()

    def line(self, done: int) -> str:
        elapsed = self.clock() - self.started
        text = f"{self.step}: {done}/{self.total} {self.unit}"
        if done and elapsed > 0:
            rate = done / elapsed
            text += f", {rate:.1f}/s"
            if done < self.total:
                text += f", ETA {_duration((self.total - done) / rate)}"
        return text

    def update(self, done: int | None = None) -> None:
        """Set (or, without ``done``, advance by one) the count; redraw at most every ``every`` seconds."""
        with self.lock:
            self.done = self.done + 1 if done is None else done
            now = self.clock()
            if self.done < self.total and now - self.last < self.every:
                return
            self.last = now
            text = self.line(self.done)
        self.show(text)
