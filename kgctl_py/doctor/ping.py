"""The pod-to-pod ping matrix: the test DaemonSet, ping output, and a verdict
that names the likely culprit.  Everything here is pure."""

from __future__ import annotations

import re
from typing import Any

from kgctl_py.doctor.hints import kilo_logs
from kgctl_py.doctor.model import Status
from kgctl_py.doctor.numbers import decimal, finite
from kgctl_py.record import record

MANAGED_BY = "app.kubernetes.io/managed-by"
MANAGER = "kgctl-py-doctor"
RUN_LABEL = "kgctl-py.squat.ai/doctor-run"
APP_LABEL = "app.kubernetes.io/name"
APP = "kgctl-py-doctor-ping"
PING_COMMAND = ["ping", "-c", "3", "-W", "2"]

_STATS = re.compile(r"([0-9]+) packets transmitted, ([0-9]+) (?:packets )?received")
_RTT = re.compile(r"(?:round-trip|rtt) min/avg/max(?:/mdev)? = ([\d.]+)/([\d.]+)/([\d.]+)")


def labels(run_id: str) -> dict[str, str]:
    return {MANAGED_BY: MANAGER, RUN_LABEL: run_id}


def namespace_manifest(name: str, run_id: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels(run_id)}}


def daemonset_manifest(namespace: str, image: str, run_id: str) -> dict[str, Any]:
    pod_labels = {APP_LABEL: APP, **labels(run_id)}
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "kgctl-py-doctor-ping", "namespace": namespace, "labels": dict(pod_labels)},
        "spec": {
            "selector": {"matchLabels": {APP_LABEL: APP, RUN_LABEL: run_id}},
            "template": {
                "metadata": {"labels": dict(pod_labels)},
                "spec": {
                    # Tolerate every taint: the matrix must cover servers and cordoned nodes too.
                    "tolerations": [{"operator": "Exists"}],
                    "terminationGracePeriodSeconds": 0,
                    "automountServiceAccountToken": False,
                    "enableServiceLinks": False,
                    "containers": [
                        {
                            "name": "ping",
                            "image": image,
                            # Bounded life: even a leaked pod stops on its own.
                            "command": ["sleep", "3600"],
                            "resources": {"requests": {"cpu": "1m", "memory": "8Mi"}, "limits": {"memory": "64Mi"}},  # room for 128 pings at once
                            "securityContext": {"capabilities": {"add": ["NET_RAW"]}},
                        }
                    ],
                },
            },
        },
    }


def no_pods_verdict(status: dict[str, Any] | None, kubectl: str, debug_ns: str) -> tuple[str, str]:
    """Why a DaemonSet made no pod at all, from its status, and what to run."""
    describe = f"rerun with --keep --namespace {debug_ns}, then: {kubectl} -n {debug_ns} describe daemonset kgctl-py-doctor-ping"
    status = status or {}
    # The API server fills the counters with zeros; only a controller sets observedGeneration.
    if "observedGeneration" not in status:
        return (
            "no ping pod was ever created: the DaemonSet got no status, so no DaemonSet controller acted on it",
            f"check that the controller manager runs (K3s embeds it in the server: journalctl -u k3s); {describe}",
        )
    if not status.get("desiredNumberScheduled"):
        return (
            "no ping pod was ever created: the DaemonSet controller found no node to run on (taints, nodeSelector, no nodes)",
            f"list the nodes and their taints: {kubectl} get nodes -o custom-columns=NAME:.metadata.name,TAINTS:.spec.taints",
        )
    return (
        f"no ping pod was ever created, though the DaemonSet wants {status['desiredNumberScheduled']}: pod creation was refused "
        "(admission: PodSecurity, a quota, a policy against NET_RAW)",
        f"{describe} (its events say why)",
    )


def not_running_hint(kubectl: str, debug_ns: str, image: str) -> str:
    """Pods exist but do not run: the image, taints or resources."""
    return (
        f"rerun with --keep --namespace {debug_ns}, then: {kubectl} -n {debug_ns} describe pods -l {APP_LABEL}={APP} "
        f"(can the nodes pull {image}? use --image for a mirror; taints; CPU and memory)"
    )


@record
class PingResult:
    status: Status
    rtt_ms: float | None = None
    detail: str = ""


def judge_ping(exit_code: int | None, stdout: str, stderr: str, error: str = "") -> PingResult:
    """One pair's verdict from busybox (or iputils) ping output."""
    if error:
        return PingResult(Status.UNKNOWN, None, error)
    stats = _STATS.search(stdout)
    rtt = _RTT.search(stdout)
    avg = finite(rtt.group(2)) if rtt else None
    sent, got = (decimal(stats.group(1)), decimal(stats.group(2))) if stats else (None, None)
    if sent is None or got is None:
        why = (stderr or stdout).strip().splitlines()
        return PingResult(Status.FAIL, None, why[-1] if why else f"ping exited with {exit_code}")
    if got == 0:
        return PingResult(Status.FAIL, None, f"0/{sent} replies")
    if got < sent:
        return PingResult(Status.WARN, avg, f"{got}/{sent} replies")
    return PingResult(Status.PASS, avg, f"{got}/{sent} replies")


@record
class Place:
    """Where a node sits in the mesh, for naming culprits."""

    location: str
    leader: str
    endpoint: str


def culprits(nodes: list[str], results: dict[tuple[str, str], PingResult], places: dict[str, Place], port: int) -> list[str]:
    """Name what most likely breaks the failing pairs: the whole mesh, one node
    (a location's leader breaks its location too), one location, or the tunnel
    between two locations.  Unknown pairs count neither way."""
    bad = {p for p, r in results.items() if r.status == Status.FAIL}
    good = {p for p, r in results.items() if r.status in (Status.PASS, Status.WARN)}
    if not bad:
        return []
    if not good:
        return [
            "no pod reaches any other pod: check that Kilo runs (kubectl -n kube-system get pods -l app.kubernetes.io/name=kilo) and the CNI config on the nodes"
        ]
    loc = {n: places[n].location for n in nodes if n in places}
    members: dict[str, set[str]] = {}
    for n, location in loc.items():
        members.setdefault(location, set()).add(n)
    multi = len(members) > 1
    # Indexes, so that a 1000-node run (70 000 pairs) is judged in linear time.
    by_node: dict[str, set[tuple[str, str]]] = {}
    by_locations: dict[tuple[str | None, str | None], set[tuple[str, str]]] = {}
    for p in bad | good:
        by_node.setdefault(p[0], set()).add(p)
        by_node.setdefault(p[1], set()).add(p)
        a, b = loc.get(p[0]), loc.get(p[1])
        key = (a, b) if (a or "") <= (b or "") else (b, a)
        by_locations.setdefault(key, set()).add(p)
    out: list[str] = []
    explained: set[tuple[str, str]] = set()
    # One node: all its measured pairs fail.  A node alone in its location is left to the location rule.
    down = {node for node in nodes if (mine := by_node.get(node, set())) and mine <= bad and not (multi and node in loc and len(members[loc[node]]) == 1)}
    for node in nodes:
        if node not in down:
            continue
        mine = by_node[node]
        place = places.get(node)
        if place is not None and multi and place.leader != node and place.leader in down:
            # A member reaches other locations, and often its own leader's pods,
            # through that leader: a broken leader explains those pairs.
            own = {p for p in mine if place.leader not in p and loc.get(p[0]) == loc.get(p[1])}
            if not own:
                explained |= mine
                continue
        if place is not None and multi and place.leader == node:
            out.append(
                f"every pair with {node} fails ({len(mine)} pairs), and {node} leads location {place.location}, so its traffic to other "
                f"locations fails too: check {node} itself (its Kilo pod, net.ipv4.ip_forward, routes, firewall) and that UDP {port} reaches {place.endpoint or 'its endpoint'}"
            )
        else:
            out.append(
                f"every pair with {node} fails ({len(mine)} pairs): check {node}'s Kilo pod, net.ipv4.ip_forward, routes and firewall ({kilo_logs(node)})"
            )
        explained |= mine
    if multi:
        # One location: every measured pair crossing it fails.
        for location in sorted(members):
            crossing: set[tuple[str, str]] = set()
            for (a, b), between in by_locations.items():
                if (a == location) != (b == location):
                    crossing |= between
            if crossing and crossing <= bad and not crossing <= explained:
                leader = places[sorted(members[location])[0]]
                out.append(
                    f"every pair crossing location {location} fails ({len(crossing)} pairs): check leader {leader.leader}'s endpoint "
                    f"{leader.endpoint or '(none)'} and that UDP {port} reaches it"
                )
                explained |= crossing
        # Two locations: every measured pair between them fails; the tunnel between their leaders is down.
        names = sorted(members)
        for i, a in enumerate(names):
            for b in names[i + 1 :]:
                between = by_locations.get((a, b), set())
                if between and between <= bad and not between <= explained:
                    la, lb = places[sorted(members[a])[0]].leader, places[sorted(members[b])[0]].leader
                    out.append(
                        f"every pair between locations {a} and {b} fails ({len(between)} pairs): the tunnel between leaders {la} and {lb} "
                        f"is down; compare `wg show` on both (see wireguard.handshake and wireguard.drift)"
                    )
                    explained |= between
    left = sorted(bad - explained)
    if left:
        shown = ", ".join(f"{a} → {b}" for a, b in left[:5])
        more = f" and {len(left) - 5} more" if len(left) > 5 else ""
        out.append(f"{len(left)} other pair(s) fail: {shown}{more}")
    return out
