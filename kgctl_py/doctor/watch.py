"""``doctor --watch SECONDS``: rerun, and print only what changed since the
last run: a check (and its subjects) that started or stopped failing."""

from __future__ import annotations

import time
from collections.abc import Callable

from kgctl_py.doctor.model import CheckResult, Status

# A check's state: its status and the subjects failing under it.
State = dict[str, tuple[Status, frozenset[str]]]


def state(results: list[CheckResult]) -> State:
    return {r.check.id: (r.status, frozenset(f.subject for f in r.findings if f.status == Status.FAIL)) for r in results}


def changes(before: State, after: State, stamp: str) -> list[str]:
    out = []
    for check, (status, failing) in after.items():
        was, was_failing = before.get(check, (Status.PASS, frozenset()))
        if status == Status.FAIL and was != Status.FAIL:
            out.append(f"{stamp} × {check} started failing: {_names(failing)}")
        elif status != Status.FAIL and was == Status.FAIL:
            out.append(f"{stamp} ✔ {check} stopped failing (now {status.value})")
        elif status == Status.FAIL:
            new, gone = failing - was_failing, was_failing - failing
            if new:
                out.append(f"{stamp} × {check} now also fails for {_names(new)}")
            if gone:
                out.append(f"{stamp} ✔ {check} no longer fails for {_names(gone)}")
    return out


def _names(subjects: frozenset[str], shown: int = 5) -> str:
    names = sorted(subjects)
    text = ", ".join(names[:shown])
    return text + (f" … and {len(names) - shown} more" if len(names) > shown else "")


def watch(
    run: Callable[[], list[CheckResult]],
    interval: float,
    first: Callable[[list[CheckResult]], None],
    say: Callable[[str], None],
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], str] = lambda: time.strftime("%H:%M:%S"),
    runs: int | None = None,
) -> list[CheckResult]:
    """Run, show the whole report once, then every ``interval`` seconds only the
    changes.  Ends with Ctrl-C (KeyboardInterrupt propagates, after the run's
    own cleanup) or after ``runs`` runs."""
    results = run()
    first(results)
    before = state(results)
    done = 1
    while runs is None or done < runs:
        sleep(interval)
        results = run()
        done += 1
        after = state(results)
        lines = changes(before, after, clock())
        for line in lines:
            say(line)
        before = after
    return results
