"""Which pod pings what: the whole matrix on small clusters, a location-aware
sample on large ones.  Pure: names and addresses in, probes out.

The location plan keeps what the full matrix would find (a broken node, a
location cut off, the tunnel between two locations) with O(N·L) probes
instead of N²:

- every pod pings the pods of its own location;
- for every other location, the pods of the two locations are paired off
  round-robin, so every pod pings one pod there and every pod there is pinged
  from this location: every (node, location) pair is covered;
- every leader pings every other leader (the tunnels themselves);
- every Peer's single-address allowed IP is pinged from one pod per location
  (its leader's, when it has one).
"""

from __future__ import annotations

import ipaddress
import math

from kgctl_py.doctor.probe import MAX_TARGETS_PER_EXEC, WORST_EXEC_SECONDS
from kgctl_py.record import record

FULL, LOCATION = "full", "location"
DEFAULT_CONCURRENCY = 16


def full_matrix_fits(seconds: float = 60.0, concurrency: int = DEFAULT_CONCURRENCY, exec_seconds: float = WORST_EXEC_SECONDS) -> int:
    """The most nodes whose full matrix takes at most ``seconds`` even if every ping times out."""
    n = 1
    while True:
        m = n + 1
        execs = m * math.ceil(max(m - 1, 1) / MAX_TARGETS_PER_EXEC)
        if math.ceil(execs / concurrency) * exec_seconds > seconds:
            return n
        n = m


# 160 at 16 concurrent execs of at most 2.9 s: the default --full-matrix-limit.
DEFAULT_FULL_MATRIX_LIMIT = full_matrix_fits()


@record(frozen=True)
class Probe:
    source: str  # the node whose ping pod pings
    target: str  # a node, or "peer NAME"
    ip: str
    kind: str = "pod"  # "pod" or "peer"


@record
class Plan:
    name: str  # FULL or LOCATION
    probes: list[Probe]

    def by_source(self) -> dict[str, list[Probe]]:
        out: dict[str, list[Probe]] = {}
        for p in self.probes:
            out.setdefault(p.source, []).append(p)
        return out


def single_address(cidr: str) -> str | None:
    try:
        net = ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return None
    return str(net.network_address) if net.num_addresses == 1 else None


def make_plan(
    pod_ips: dict[str, str],
    location: dict[str, str],
    leaders: dict[str, str],
    peers: list[tuple[str, str]],
    full: bool = False,
    limit: int = DEFAULT_FULL_MATRIX_LIMIT,
) -> Plan:
    """``pod_ips``: node -> its ping pod's IP; ``location``: node -> location;
    ``leaders``: location -> leader node; ``peers``: (peer name, allowed IP or CIDR)."""
    nodes = sorted(pod_ips)
    if full or len(nodes) <= limit:
        return Plan(FULL, [Probe(a, b, pod_ips[b]) for a in nodes for b in nodes if a != b])
    members: dict[str, list[str]] = {}
    for n in nodes:
        members.setdefault(location.get(n, ""), []).append(n)
    names = sorted(members)
    pairs: dict[tuple[str, str], None] = {}  # ordered and without duplicates
    for loc in names:
        inside = members[loc]
        for a in inside:
            for b in inside:
                if a != b:
                    pairs[(a, b)] = None
    for i, la in enumerate(names):
        src = members[la]
        for k, lb in enumerate(names):
            if la == lb:
                continue
            dst = members[lb]
            # Rotate by the location pair, so that the same few pods do not carry every crossing.
            shift = (i + k) % len(dst)
            for j in range(max(len(src), len(dst))):
                pairs[(src[j % len(src)], dst[(j + shift) % len(dst)])] = None
    heads = sorted({leaders[loc] for loc in names if leaders.get(loc) in pod_ips})
    for a in heads:
        for b in heads:
            if a != b:
                pairs[(a, b)] = None
    probes = [Probe(a, b, pod_ips[b]) for a, b in sorted(pairs)]
    for loc in names:
        head = leaders.get(loc)
        origin = head if head is not None and head in pod_ips else members[loc][0]
        for name, cidr in peers:
            ip = single_address(cidr)
            if ip is not None:
                probes.append(Probe(origin, f"peer {name}", ip, "peer"))
    return Plan(LOCATION, probes)
