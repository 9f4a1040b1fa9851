"""The processes' entry: the ``kgctl-py`` and ``kubectl-kilo`` console scripts,
and ``python -m kgctl_py``.

A run is short, and two of the interpreter's defaults cost it about 15 ms of
~150 (callgrind: 360 M instructions to 318 M for a 6-node ``graph``):

- Collecting garbage while the imports build thousands of objects, none of them
  garbage. The young generation is collected every 10,000 allocations instead
  of every 700, so a long ``connect`` still frees its cycles.
- Freeing every module and object at exit. Once the output is flushed and the
  exit handlers have run, nothing is left to do, so the process ends there, as
  mypy's does. Should another thread still run, or a profiler or debugger watch,
  the interpreter's own exit runs as usual.

``main()`` functions stay plain and return their code, for tests and callers.
"""

from __future__ import annotations

import gc
import os
import sys
from typing import NoReturn

YOUNG_GENERATION = 10_000


def _exit(code: object) -> NoReturn:
    status = code if isinstance(code, int) else (0 if code is None else 1)
    import atexit
    import threading

    others = [t for t in threading.enumerate() if t is not threading.current_thread() and not t.daemon]
    run_exit_handlers = getattr(atexit, "_run_exitfuncs", None)  # CPython's; elsewhere, the plain exit
    # Under a profiler or debugger (cProfile, pdb, trace), it writes its results after we return.
    if others or run_exit_handlers is None or sys.getprofile() is not None or sys.gettrace() is not None:
        sys.exit(status)
    run_exit_handlers()  # it clears them too: a fallback below does not run them twice
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        sys.exit(status)  # a closed or full stdout: the interpreter's exit deals with it as ever
    os._exit(int(status))


def run() -> NoReturn:
    """``kgctl-py``."""
    gc.set_threshold(YOUNG_GENERATION, *gc.get_threshold()[1:])
    from kgctl_py.cli import main

    _exit(main())


def run_plugin() -> NoReturn:
    """``kubectl-kilo``."""
    gc.set_threshold(YOUNG_GENERATION, *gc.get_threshold()[1:])
    from kgctl_py.kubectl_plugin import main

    _exit(main())


if __name__ == "__main__":
    run()
