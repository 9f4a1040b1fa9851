"""``doctor --pre``: the checks that matter on a K3s cluster before Kilo is installed.

Without Kilo there are no Kilo pods to exec in, so the host-level readings
(ip_forward, the WireGuard UDP port) come from short-lived ``hostNetwork``
busybox pods that doctor creates in its own namespace and deletes afterwards.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from kgctl_py.doctor import k3s
from kgctl_py.doctor import ping as P
from kgctl_py.doctor.kube import ExecOutcome
from kgctl_py.doctor.model import Finding, Status
from kgctl_py.doctor.pool import run_bounded
from kgctl_py.kube import resources as R
from kgctl_py.mesh.ipnet import is_public, parse_ip, parse_network
from kgctl_py.mesh.model import Granularity

if TYPE_CHECKING:
    from kgctl_py.doctor.live import LiveContext
    from kgctl_py.doctor.static import StaticInput

HOST_APP = "kgctl-py-doctor-host"
UDP_TABLES = ["cat", "/proc/net/udp", "/proc/net/udp6"]


# --- static ------------------------------------------------------------------------------------


def pod_cidr(inp: StaticInput) -> list[Finding]:
    """Kilo routes each node's spec.podCIDR; K3s must hand one out before Kilo starts."""
    out = []
    for obj, node in zip(inp.node_objs, inp.nodes):
        raw = (obj.get("spec") or {}).get("podCIDR")
        if isinstance(raw, str) and parse_network(raw) is not None:
            out.append(Finding(Status.PASS, node.name, f"pod CIDR {raw}"))
            continue
        what = "no spec.podCIDR" if raw is None else f"spec.podCIDR {raw!r} is not a CIDR"
        out.append(
            Finding(
                Status.FAIL,
                node.name,
                f"{what}: Kilo has no pod range to route for this node",
                hint=f"kubectl get node {node.name} -o jsonpath='{{.spec.podCIDR}}'; K3s hands pod CIDRs out of its --cluster-cidr when a node registers",
            )
        )
    return out


def public_address(inp: StaticInput) -> list[Finding]:
    """Each planned location needs one node other locations can reach: Kilo's leader."""
    full = inp.granularity == Granularity.FULL
    places: dict[str, list[tuple[str, list[str]]]] = {}
    for obj, node in zip(inp.node_objs, inp.nodes):
        declared = k3s.external_ips(obj, k3s.node_args(obj))
        public = [ip for ip in declared if (parsed := parse_ip(ip)) is not None and is_public(parsed)]
        place = node.name if full else (node.location or '""')
        places.setdefault(place, []).append((node.name, public))
    out = []
    # Sort so the report is stable.
    for place in sorted(places):
        members = sorted(places[place])
        reachable = [f"{name} ({', '.join(ips)})" for name, ips in members if ips]
        kind = "node" if full else "location"
        if reachable:
            out.append(Finding(Status.PASS, place, f"public address on {', '.join(reachable)}", kind))
        else:
            names = ", ".join(name for name, _ in members)
            out.append(
                Finding(
                    Status.FAIL,
                    place,
                    f"no node has a public address ({names}): other locations cannot reach this one over WireGuard",
                    kind,
                    hint=f"start K3s on one of {names} with --node-external-ip <public IP>, or plan a kilo.squat.ai/force-endpoint for it",
                )
            )
    return out


# --- live: hostNetwork pods ------------------------------------------------------------------------


def host_daemonset(namespace: str, image: str, run_id: str) -> dict[str, Any]:
    """The ping DaemonSet, on the host's network and without NET_RAW: it only reads /proc."""
    ds = P.daemonset_manifest(namespace, image, run_id)
    ds["metadata"]["name"] = HOST_APP
    for part in (ds["metadata"]["labels"], ds["spec"]["selector"]["matchLabels"], ds["spec"]["template"]["metadata"]["labels"]):
        part[P.APP_LABEL] = HOST_APP
    spec = ds["spec"]["template"]["spec"]
    spec["hostNetwork"] = True
    container = spec["containers"][0]
    container["name"] = "host"
    container["command"] = ["sleep", "600"]
    container.pop("securityContext", None)
    return ds


def host_pods(ctx: LiveContext) -> tuple[dict[str, dict[str, Any]], list[Finding]]:
    """Doctor's hostNetwork pods by node, created once per run; or the findings why not."""
    if ctx.host_pods is not None:
        return ctx.host_pods, []
    from kgctl_py.doctor.live import create_namespace

    ns, early = create_namespace(ctx, [("create", "apps", "daemonsets", ""), ("list", "", "pods", ""), ("create", "", "pods", "exec")])
    if early:
        return {}, early
    R.DAEMONSETS.create(ctx.session.client, host_daemonset(ns, ctx.opts.image, ctx.run_id), ns, what=f"daemonset {HOST_APP}")
    want = sorted(n.name for n in ctx.static.nodes)
    deadline = time.monotonic() + ctx.opts.timeout
    running: dict[str, dict[str, Any]] = {}
    while True:
        pods = R.PODS.list(ctx.session.client, ns, selector=f"{P.APP_LABEL}={HOST_APP}")
        running = {}
        for pod in pods:
            node = (pod.get("spec") or {}).get("nodeName") or ""
            if (pod.get("status") or {}).get("phase") == "Running":
                running.setdefault(node, pod)
        ctx.progress(f"host pods running: {len([n for n in want if n in running])}/{len(want)}")
        if all(n in running for n in want) or time.monotonic() >= deadline:
            break
        time.sleep(0.25)
    ctx.host_pods = {n: p for n, p in running.items() if n in want}
    return ctx.host_pods, []


def on_hosts(ctx: LiveContext, command: list[str]) -> tuple[dict[str, ExecOutcome], list[Finding]]:
    pods, early = host_pods(ctx)
    if early:
        return {}, early
    names = sorted(pods)

    def one(node: str) -> ExecOutcome:
        md = pods[node]["metadata"]
        return ctx.session.exec(md["namespace"], md["name"], "host", command, ctx.opts.exec_timeout)

    results = run_bounded(names, one, ctx.opts.max_concurrent_execs)
    return {names[i]: r for i, r in results.items()}, []


def _no_host_pod(ctx: LiveContext, node: str) -> Finding:
    return Finding(
        Status.FAIL,
        node,
        f"no running host pod after {ctx.opts.timeout:g}s",
        hint=f"{ctx.kubectl} -n {ctx.namespace} describe pods -l {P.APP_LABEL}={HOST_APP} (image {ctx.opts.image} reachable? taints?)",
    )


def ip_forward(ctx: LiveContext) -> list[Finding]:
    from kgctl_py.doctor.live import ip_forward_findings, judge_ip_forward

    outcomes, early = on_hosts(ctx, ["cat", "/proc/sys/net/ipv4/ip_forward"])
    if early:
        return early
    out = []
    for node in ctx.static.nodes:
        if node.name not in outcomes:
            out.append(_no_host_pod(ctx, node.name))
            continue
        o = outcomes[node.name]
        can_i = f"the exec failed, so nothing is known of the node yet; check it may: {ctx.kubectl} auth can-i create pods/exec -n {ctx.namespace}"
        out.extend(ip_forward_findings(node.name, *judge_ip_forward(o), exec_failed=can_i if o.error else ""))
    return out


def bound_udp_ports(text: str) -> set[int]:
    """Local UDP ports in /proc/net/udp{,6} (``local_address`` is ``HEXIP:HEXPORT``)."""
    ports = set()
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 2 or ":" not in fields[1] or fields[0] == "sl":
            continue
        try:
            ports.add(int(fields[1].rsplit(":", 1)[1], 16))
        except ValueError:
            continue
    return ports


def wireguard_port(ctx: LiveContext) -> list[Finding]:
    outcomes, early = on_hosts(ctx, UDP_TABLES)
    if early:
        return early
    port = ctx.static.port
    out = []
    for node in ctx.static.nodes:
        o = outcomes.get(node.name)
        if o is None:
            out.append(_no_host_pod(ctx, node.name))
        elif o.error or not o.stdout.strip():
            out.append(Finding(Status.FAIL, node.name, f"cannot read /proc/net/udp: {o.error or o.stderr.strip() or 'no output'}"))
        elif port in bound_udp_ports(o.stdout):
            out.append(
                Finding(
                    Status.FAIL,
                    node.name,
                    f"UDP port {port} is already bound on the host: Kilo's WireGuard cannot listen there",
                    hint=f"on {node.name}: ss -ulpn 'sport = :{port}' shows the owner; stop it, or run Kilo and kgctl-py with another --port",
                )
            )
        else:
            out.append(Finding(Status.PASS, node.name, f"UDP port {port} is free"))
    return out
