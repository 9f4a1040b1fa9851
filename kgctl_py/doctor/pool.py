"""A bounded pool of daemon threads.

Daemon threads, because an interrupted doctor must clean up and exit at once
rather than wait for execs still in flight (their own timeouts end them).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def run_bounded(items: list[T], fn: Callable[[T], R], workers: int, on_done: Callable[[T, R], None] | None = None) -> dict[int, R]:
    """``fn`` over ``items`` with at most ``workers`` at once; results by index.

    The calling (main) thread waits in short slices, so Ctrl-C and SIGTERM
    interrupt it; the remaining items are then abandoned.
    """
    todo: queue.Queue[int] = queue.Queue()
    for i in range(len(items)):
        todo.put(i)
    results: dict[int, R] = {}
    lock = threading.Lock()
    stop = threading.Event()
    failure: list[BaseException] = []

    def worker() -> None:
        while not stop.is_set():
            try:
                i = todo.get_nowait()
            except queue.Empty:
                return
            try:
                result = fn(items[i])
            except BaseException as err:  # a bug in fn: stop and report it in the main thread
                failure.append(err)
                stop.set()
                return
            with lock:
                results[i] = result
                if on_done is not None:
                    on_done(items[i], result)

    threads = [threading.Thread(target=worker, daemon=True, name=f"doctor-exec-{n}") for n in range(max(1, min(workers, len(items))))]
    for t in threads:
        t.start()
    try:
        for t in threads:
            while t.is_alive():
                t.join(0.1)
    finally:
        stop.set()
    if failure:
        raise failure[0]
    return results
