"""The busybox pods the data-path checks (pod.dns, pod.service, net.mtu) run in.

They are doctor's ping DaemonSet (ping.py's manifests), created once per run
on first use and shared; the runner's final ``live.cleanup`` deletes them with
the namespace. One pod per location is picked to probe from.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kgctl_py.doctor import ping as P
from kgctl_py.doctor.kube import ExecOutcome
from kgctl_py.doctor.model import Finding, Status
from kgctl_py.doctor.pool import run_bounded
from kgctl_py.kube import resources as R
from kgctl_py.kube.client import ApiError
from kgctl_py.record import record

if TYPE_CHECKING:
    from kgctl_py.doctor.live import LiveContext

KEY = "podnet.pods"
NOT_FOUND = (126, 127)  # the shell could not find or run the applet


@record(frozen=True)
class Probe:
    location: str
    node: str
    pod: dict[str, Any]

    @property
    def ip(self) -> str:
        return str((self.pod.get("status") or {}).get("podIP") or "")


def pods(ctx: LiveContext) -> tuple[dict[str, dict[str, Any]], list[Finding]]:
    """node -> running doctor pod, made once per run; or findings saying why not."""
    if KEY in ctx.shared:
        return ctx.shared[KEY]
    from kgctl_py.doctor.live import _wait_for_pods, create_namespace

    result: tuple[dict[str, dict[str, Any]], list[Finding]]
    ns, early = create_namespace(ctx, [("create", "apps", "daemonsets", ""), ("list", "", "pods", ""), ("create", "", "pods", "exec")])
    if early:
        result = ({}, early)
        ctx.shared[KEY] = result
        return result
    try:
        R.DAEMONSETS.create(ctx.session.client, P.daemonset_manifest(ns, ctx.opts.image, ctx.run_id), ns, what="daemonset kgctl-py-doctor-ping")
    except ApiError as err:
        if err.status != 409:  # already there: pod.ping's pods are still up
            raise
    running, waiting = _wait_for_pods(ctx, ns)
    findings = [Finding(Status.SKIP, node, f"no running doctor pod: {why}") for node, why in sorted(waiting.items())]
    result = (running, findings)
    ctx.shared[KEY] = result
    return result


def probes(ctx: LiveContext) -> tuple[list[Probe], list[Finding]]:
    """One pod per location (its first node by name that has one), sorted by location."""
    from kgctl_py.doctor.live import _ping_places

    running, findings = pods(ctx)
    places = _ping_places(ctx)
    chosen: dict[str, Probe] = {}
    for node in sorted(running):
        loc = places[node].location if node in places else node
        chosen.setdefault(loc, Probe(loc, node, running[node]))
    return [chosen[k] for k in sorted(chosen)], list(findings)


def location_of(ctx: LiveContext, node: str) -> str:
    from kgctl_py.doctor.live import _ping_places

    place = _ping_places(ctx).get(node)
    return place.location if place else node


def exec_each(ctx: LiveContext, jobs: list[tuple[Probe, list[str]]]) -> list[ExecOutcome]:
    """Run each (probe, argv) in the probe's pod, in parallel (bounded); results in order."""

    def one(job: tuple[Probe, list[str]]) -> ExecOutcome:
        probe, argv = job
        md = probe.pod["metadata"]
        return ctx.session.exec(md["namespace"], md["name"], "ping", argv, ctx.opts.exec_timeout)

    done = run_bounded(jobs, one, ctx.opts.max_concurrent_execs)
    return [done[i] for i in range(len(jobs))]


def read_service(ctx: LiveContext, namespace: str, name: str) -> dict[str, Any] | None:
    try:
        return R.SERVICES.get(ctx.session.client, name, namespace, what=f"service {namespace}/{name}")
    except ApiError as err:
        if err.status in (403, 404):
            return None
        raise


def cluster_ip(service: dict[str, Any] | None) -> str:
    ip = ((service or {}).get("spec") or {}).get("clusterIP") or ""
    return "" if ip == "None" else str(ip)
