"""Injected faults: error statuses, slow responses, connection resets and cut watches."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Fault:
    """Make matching requests misbehave.

    ``path`` is a regular expression searched in the request path (no query string);
    ``method`` narrows it to one HTTP method. Effects, in this order: wait ``delay``
    seconds; then ``reset`` the connection (TCP RST), or answer ``status`` with ``body``
    (a dict is sent as JSON; by default a proper ``Status``). ``cut_watch_after=N`` only
    matches watch requests and aborts the stream after N events. ``times`` limits how
    many requests the fault hits; ``hits`` counts them. The first matching fault wins.
    """

    path: str = ""
    method: str | None = None
    status: int | None = None
    delay: float | None = None
    times: int | None = None
    body: Any = None
    cut_watch_after: int | None = None
    reset: bool = False
    hits: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        self._re = re.compile(self.path)

    @property
    def exhausted(self) -> bool:
        return self.times is not None and self.hits >= self.times

    def matches(self, method: str, path: str, watch: bool) -> bool:
        if self.exhausted:
            return False
        if self.method is not None and self.method.upper() != method.upper():
            return False
        if self.cut_watch_after is not None and not watch:
            return False
        return self._re.search(path) is not None


class FaultSet:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def take(self, method: str, path: str, watch: bool) -> Fault | None:
        """The first matching fault, with its hit counted."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path, watch):
                    fault.hits += 1
                    return fault
        return None
