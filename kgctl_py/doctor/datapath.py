"""pod.dns and pod.service: DNS and a Service's TCP from one pod per location.

Both go through a ClusterIP (kube-proxy's DNAT on the pod's node) and then
across the mesh to wherever the endpoint lives, so they test more than ICMP:
UDP 53 to CoreDNS's location, and TCP to the API server.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from kgctl_py.doctor import podnet
from kgctl_py.doctor.kube import ExecOutcome
from kgctl_py.doctor.model import Finding, Status
from kgctl_py.kube import resources as R

if TYPE_CHECKING:
    from kgctl_py.doctor.live import LiveContext

DNS_NAME = "kubernetes.default.svc.cluster.local"
DNS_SERVICE = ("kube-system", "kube-dns")
KUBERNETES_SERVICE = ("default", "kubernetes")
CONNECT_TIMEOUT = 3  # seconds for nc -w


def judge_nslookup(outcome: ExecOutcome, name: str = DNS_NAME) -> tuple[bool, str]:
    """(resolved, detail) from busybox ``nslookup NAME SERVER``.

    busybox exits 1 when any of its A/AAAA queries fails, so the answer
    section decides: a ``Name: NAME`` followed by an ``Address``.
    """
    if outcome.error:
        return False, f"exec failed: {outcome.error}"
    text = outcome.stdout + "\n" + outcome.stderr
    match = re.search(rf"^Name:\s*{re.escape(name)}\.?\s*\n(?:Address(?: \d+)?:\s*(\S+))", text, re.M)
    if match:
        return True, f"{name} is {match.group(1)}"
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith(("Server:", "Address:"))]
    return False, (lines[-1] if lines else f"no answer (exit code {outcome.exit_code})")


def judge_connect(outcome: ExecOutcome) -> tuple[bool, str]:
    """(connected, detail) from busybox ``nc -w N IP PORT`` with no stdin."""
    if outcome.error:
        return False, f"exec failed: {outcome.error}"
    if outcome.exit_code == 0:
        return True, "TCP connect succeeded"
    text = (outcome.stderr or outcome.stdout).strip().splitlines()
    return False, (text[-1] if text else f"exit code {outcome.exit_code}")


def _unavailable(outcome: ExecOutcome) -> bool:
    return not outcome.error and outcome.exit_code in podnet.NOT_FOUND and "not found" in (outcome.stderr + outcome.stdout)


def culprit(failed: list[str], passed: list[str], homes: list[str], what: str, named: str = "") -> str:
    """A cluster-level reading of per-location results ('' when there is none)."""
    if not failed:
        return ""
    if homes and passed and set(passed) <= set(homes):
        home = named or ", ".join(homes)
        return (
            f"only {home} gets through to {what}, which runs there: traffic from the other locations is dropped "
            "on the way to it (a firewall or security group there, or the mesh; compare with pod.ping)"
        )
    if not passed:
        return f"no location gets through to {what}: check that it runs and its Service's endpoints"
    return ""


def _endpoint_nodes(ctx: LiveContext, namespace: str, selector: str) -> list[str]:
    try:
        pods = R.PODS.list(ctx.session.client, namespace, selector=selector)
    except Exception:  # noqa: BLE001 -- only a hint; the probe decides
        return []
    return sorted({n for p in pods if (n := (p.get("spec") or {}).get("nodeName"))})


def _homes(ctx: LiveContext, nodes: list[str]) -> tuple[list[str], str]:
    """The locations of ``nodes``, and how to name them: 'ctyun (ty1.k3s)'."""
    by_loc: dict[str, list[str]] = {}
    for n in nodes:
        by_loc.setdefault(podnet.location_of(ctx, n), []).append(n)
    return sorted(by_loc), ", ".join(f"{loc} ({', '.join(ns)})" for loc, ns in sorted(by_loc.items()))


def _probe_all(ctx: LiveContext, argv: list[str], judge, what: str, homes: tuple[list[str], str], fix: str) -> list[Finding]:  # noqa: ANN001
    probes, out = podnet.probes(ctx)
    if not probes:
        return out or [Finding(Status.SKIP, "cluster", "no doctor pod is running to probe from", "cluster")]
    ctx.progress(f"probing {what} from {len(probes)} location(s)")
    results = podnet.exec_each(ctx, [(p, argv) for p in probes])
    if all(_unavailable(o) for o in results):
        return [
            Finding(
                Status.SKIP, "cluster", f"the doctor image cannot run {argv[0]}: {results[0].stderr.strip()}", "cluster", hint="use a busybox image (--image)"
            )
        ]
    failed: list[str] = []
    passed: list[str] = []
    for probe, outcome in zip(probes, results, strict=True):
        ok, detail = judge(outcome)
        (passed if ok else failed).append(probe.location)
        out.append(Finding(Status.PASS if ok else Status.FAIL, probe.location, f"from {probe.node}: {detail}", "location", hint="" if ok else fix))
    why = culprit(failed, passed, homes[0], what, homes[1])
    if why:
        out.append(Finding(Status.FAIL, "cluster", why, "cluster", hint=fix))
    return out


def pod_dns(ctx: LiveContext) -> list[Finding]:
    service = podnet.read_service(ctx, *DNS_SERVICE)
    ip = podnet.cluster_ip(service)
    if not ip:
        return [Finding(Status.SKIP, "cluster", "no ClusterIP of Service kube-system/kube-dns to query", "cluster")]
    homes = _homes(ctx, _endpoint_nodes(ctx, DNS_SERVICE[0], "k8s-app=kube-dns"))
    where = f"the cluster DNS ({ip})"
    fix = (
        f"allow UDP 53 from every location's pod CIDRs to the DNS pods{' in ' + homes[1] if homes[1] else ''}; "
        f"test with: {ctx.kubectl} run -it --rm dnstest --image=busybox:1.36 --restart=Never -- nslookup {DNS_NAME} {ip}"
    )
    return _probe_all(ctx, ["nslookup", DNS_NAME, ip], judge_nslookup, where, homes, fix)


def pod_service(ctx: LiveContext) -> list[Finding]:
    service = podnet.read_service(ctx, *KUBERNETES_SERVICE)
    ip = podnet.cluster_ip(service)
    if not ip:
        return [Finding(Status.SKIP, "cluster", "no ClusterIP of Service default/kubernetes to connect to", "cluster")]
    ports = [p.get("port") for p in ((service or {}).get("spec") or {}).get("ports") or [] if isinstance(p, dict)]
    port = int(ports[0]) if ports and isinstance(ports[0], int) else 443
    homes = _homes(ctx, [n.name for n in ctx.static.nodes if _is_server(ctx, n.name)])
    what = f"the kubernetes Service ({ip}:{port})"
    fix = (
        f"check kube-proxy on the failing location's nodes and that the API server's address is reachable across the mesh; "
        f"test with: {ctx.kubectl} run -it --rm svctest --image=busybox:1.36 --restart=Never -- nc -w {CONNECT_TIMEOUT} {ip} {port}"
    )
    return _probe_all(ctx, ["nc", "-w", str(CONNECT_TIMEOUT), ip, str(port)], judge_connect, what, homes, fix)


def _is_server(ctx: LiveContext, name: str) -> bool:
    for obj in ctx.static.node_objs:
        md = obj.get("metadata") or {}
        if md.get("name") == name:
            labels = md.get("labels") or {}
            return "node-role.kubernetes.io/control-plane" in labels or "node-role.kubernetes.io/master" in labels
    return False
