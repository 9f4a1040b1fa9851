"""Select checks, gather their inputs, run them, report to an observer."""

from __future__ import annotations

import fnmatch
import shlex
import signal
import threading
import time
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, cast

from kgctl_py.doctor.model import Check, CheckResult, DoctorOptions, Finding, LiveRun, Observer, Outcome, StaticRun, Status, Waiting
from kgctl_py.doctor.registry import CHECKS
from kgctl_py.doctor.static import StaticInput, build_input
from kgctl_py.errors import CliError, ExitCode
from kgctl_py.mesh.model import Granularity
from kgctl_py.record import replace

if TYPE_CHECKING:
    from kgctl_py.doctor.live import LiveContext


def select(checks: list[Check], wanted: tuple[str, ...], skipped: tuple[str, ...]) -> list[Check]:
    """Checks matching any --check glob (all when none), minus any --skip glob."""
    ids = [c.id for c in checks]
    for pattern in (*wanted, *skipped):
        if not fnmatch.filter(ids, pattern):
            raise no_such_check(pattern, ids)
    chosen = [c for c in checks if not wanted or any(fnmatch.fnmatchcase(c.id, p) for p in wanted)]
    return [c for c in chosen if not any(fnmatch.fnmatchcase(c.id, p) for p in skipped)]


def no_such_check(pattern: str, ids: list[str]) -> CliError:
    """A --check, --skip or --explain that names no check: the closest id, and where the list is."""
    import difflib

    close = difflib.get_close_matches(pattern, ids, n=1, cutoff=0.6)
    guess = f" (did you mean {close[0]!r}?)" if close else ""
    return CliError(f"no check matches {pattern!r}{guess}; list them with: kgctl-py doctor --list-checks", ExitCode.USAGE)


def kilo_pods(pods: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    from kgctl_py import shapes

    for pod in (shapes.pod(p) for p in pods if isinstance(p, dict)):
        labels = pod.get("metadata", {}).get("labels") or {}
        if isinstance(labels, dict) and labels.get("app.kubernetes.io/name") == "kilo":
            out.append(pod)
    return out


def kubectl_prefix(kubeconfig: str | None, context: str | None) -> str:
    parts = ["kubectl"]
    if kubeconfig:
        parts += ["--kubeconfig", kubeconfig]
    if context:
        parts += ["--context", context]
    return " ".join(shlex.quote(p) for p in parts)


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM ends the run like Ctrl-C does, through every ``finally``."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _skip(check: Check, why: str) -> CheckResult:
    return CheckResult(check, [Finding(Status.SKIP, "cluster", why, "cluster", check=check.id)])


def _why_not_run(check: Check, ctx: LiveContext | None, opts: DoctorOptions) -> str:
    """Why a check cannot run here, or '' when it can."""
    if opts.pre and not check.pre:
        return "needs Kilo: not run with --pre"
    if check.pre_only and not opts.pre:
        return "only before Kilo is installed (--pre)"
    if check.static:
        return ""
    if opts.static_only:
        return "--static-only"
    if check.opt_in and not getattr(opts, check.opt_in):
        return check.opt_in_reason or f"needs --{check.opt_in.replace('_', '-')}"
    if check.needs_api and (ctx is None or ctx.session is None):
        return "needs a live cluster (not run on --snapshot)"
    return ""


def apply_contract(check: Check, outcome: Outcome) -> CheckResult:
    """Stamp the check's id on its findings and cap their status at its severity."""
    findings, data = outcome if isinstance(outcome, tuple) else (outcome, None)
    stamped = [replace(f, check=check.id, status=check.cap(f.status)) for f in findings]
    return CheckResult(check, stamped, data)


def run_one(check: Check, inp: StaticInput, ctx: LiveContext | None) -> Outcome | Waiting:
    if check.static:
        return cast(StaticRun, check.run)(inp)
    assert ctx is not None
    return cast(LiveRun, check.run)(ctx)


def _failed(check: Check, err: CliError) -> CheckResult:
    return apply_contract(check, [Finding(Status.FAIL, "cluster", err.message, "cluster")])


def _start(check: Check, inp: StaticInput, ctx: LiveContext | None) -> CheckResult | tuple[Waiting, float]:
    """Run a check: its result, or (the waiting check, the seconds it waits)."""
    try:
        got = run_one(check, inp, ctx)
    except CliError as err:
        return _failed(check, err)
    return _resume(check, got) if isinstance(got, Generator) else apply_contract(check, got)


def _resume(check: Check, waiting: Waiting) -> CheckResult | tuple[Waiting, float]:
    try:
        return waiting, next(waiting)
    except StopIteration as done:
        return apply_contract(check, done.value)
    except CliError as err:
        return _failed(check, err)


def run_checks(checks: list[Check], inp: StaticInput, ctx: LiveContext | None, opts: DoctorOptions, observer: Observer) -> None:
    """Each check in order. A check that waits (two reads some seconds apart) is resumed
    when its time is up, the next checks running meanwhile; the observer still gets the
    results in the checks' order."""
    results: dict[int, CheckResult] = {}
    parked: list[tuple[float, int, Waiting]] = []  # (due, index, the waiting check)
    reported = 0

    def settle(index: int, got: CheckResult | tuple[Waiting, float]) -> None:
        if isinstance(got, CheckResult):
            results[index] = got
        else:
            parked.append((time.monotonic() + got[1], index, got[0]))

    def resume_due(block: bool) -> None:
        while parked:
            parked.sort(key=lambda p: p[0])
            due, index, waiting = parked[0]
            if not block and due > time.monotonic():
                return
            time.sleep(max(0.0, due - time.monotonic()))
            parked.pop(0)
            settle(index, _resume(checks[index], waiting))

    def report() -> None:
        nonlocal reported
        while reported in results:
            observer.finished(results.pop(reported))
            reported += 1

    for index, check in enumerate(checks):
        resume_due(block=False)
        observer.started(check)
        why = _why_not_run(check, ctx, opts)
        settle(index, _skip(check, why) if why else _start(check, inp, ctx))
        report()
    resume_due(block=True)
    report()


def exit_code(results: list[CheckResult]) -> int:
    return int(ExitCode.FAILURE) if any(r.status == Status.FAIL for r in results) else int(ExitCode.OK)


def load_input(settings: Any) -> tuple[StaticInput, Any]:
    """The objects (snapshot or API) and, for a live cluster, an API session."""
    from kgctl_py import sources

    session = None
    if settings.snapshot is None:
        from kgctl_py.doctor.kube import Session
        from kgctl_py.kube.kubeconfig import resolve

        session = Session(resolve(settings.kubeconfig, settings.context, settings.request_timeout), settings.request_timeout)
    forbidden: list[str] = []
    try:
        # Pods are optional: without them the static checks still run, and the
        # checks that need pods fail on their own with the command to check RBAC.
        objects = sources.load(settings, sources.DOCTOR, client=session.client if session is not None else None, warn=forbidden.append)
    except BaseException:
        if session is not None:
            session.close()
        raise
    pods = kilo_pods(objects.pods)
    live = settings.snapshot is None
    server_now = objects.server_time()
    # Kilo judges last-seen by the reader's clock; the API server's is the one the nodes agree with.
    if settings.now is not None:
        now, now_from = settings.now, "--now"
    elif not live:
        now, now_from = objects.now, "capture"
    elif server_now is not None:
        now, now_from = server_now, "server"
    else:
        now, now_from = objects.now, "local"
    inp = build_input(
        objects.nodes,
        objects.peers,
        pods=pods if objects.pods_listed else None,
        crd_present=objects.crd_present,
        now=now,
        port=settings.port,
        granularity=Granularity(settings.mesh_granularity),
        topology_label=settings.topology_label,
        snapshot=not live,
        daemonsets=objects.daemonsets if objects.daemonset_listed else None,
        daemonsets_error=objects.daemonsets_error,
    )
    inp.now_from = now_from
    # Both clocks: live as read, offline as the snapshot recorded them at capture.
    inp.local_now, inp.server_now = (objects.local_now, server_now) if server_now is not None else (None, None)
    if forbidden:
        can_i = f"{kubectl_prefix(settings.kubeconfig, settings.context)} auth can-i list pods --all-namespaces"
        inp.pods_problem = f"cannot list the Kilo pods: {forbidden[0]} (check with: {can_i})"
    return inp, session


def doctor(settings: Any, opts: DoctorOptions, observer: Observer, progress: Any = None, warn: Any = None) -> int:
    checks = select(CHECKS, opts.checks, opts.skips)
    # Pre-install checks would only add skipped rows to a report on a cluster with Kilo.
    checks = [c for c in checks if opts.pre or not c.pre_only]
    from kgctl_py.doctor.live import LiveContext, cleanup

    with sigterm_as_interrupt():
        inp, session = load_input(settings)
        inp.pre = opts.pre
        observer.loaded(inp)
        ctx = None
        if session is not None or opts.from_host:
            ctx = LiveContext(inp, session, opts, progress or (lambda m: None), warn or (lambda m: None), kubectl_prefix(settings.kubeconfig, settings.context))
        try:
            run_checks(checks, inp, ctx, opts, observer)
        finally:
            if ctx is not None and session is not None:
                cleanup(ctx)
                session.close()
    return exit_code(observer.results)
