"""Kilo's topology: segments, leaders, WireGuard IP allocation, allowed IPs.

A *segment* is one logical location (or one node, in full granularity) that
the rest of the mesh reaches through a single WireGuard peer: its *leader*.
This follows Kilo's ``NewTopology`` step for step, because kgctl's output
depends on the order in which Kilo does things (for example, allowed location
IPs are filtered segment by segment while WireGuard IPs are still being
allocated).
"""

from __future__ import annotations

import ipaddress

from kgctl_py.mesh.endpoint import Endpoint
from kgctl_py.mesh.ipnet import Address, IPNet, is_public, one_address
from kgctl_py.mesh.key import key_str
from kgctl_py.mesh.model import Granularity, Node, Peer
from kgctl_py.record import field, record

LOGICAL_PREFIX = "location:"
NODE_PREFIX = "node:"


class TopologyError(Exception):
    """Kilo could not build a topology (e.g. the WireGuard subnet ran out)."""


class _NilNet:
    """What Go prints for an IPNet with an empty IP: ``<nil>``.

    Kilo hands one out when the WireGuard subnet is exhausted for the first
    time; it intersects nothing.
    """

    ip = None

    def __str__(self) -> str:
        return "<nil>"

    def contains(self, addr: Address) -> bool:
        return False

    def intersects(self, other: object) -> bool:
        return False


NIL_NET = _NilNet()
AllowedIP = IPNet | _NilNet


@record
class Segment:
    location: str
    allowed_ips: list[AllowedIP]
    endpoint: Endpoint | None
    key: bytes | None
    keepalive_ns: int
    cidrs: list[IPNet | None]
    hostnames: list[str]
    leader: int
    private_ips: list[Address]
    allowed_location_ips: list[IPNet]
    # None until allocated; NIL_NET when the subnet was exhausted.
    wireguard_ip: Address | _NilNet | None = None
    # Which of Kilo's election rules chose the leader (``elect_leader``).
    leader_reason: str = ""

    @property
    def leader_name(self) -> str:
        return self.hostnames[self.leader]

    @property
    def logical(self) -> bool:
        """A logical location shared by its nodes, rather than one node (full granularity, or no private IP)."""
        return self.location.startswith(LOGICAL_PREFIX)

    @property
    def location_name(self) -> str:
        """The location's own name (may be empty), or the node's name for a one-node segment."""
        return self.location.partition(":")[2]


@record
class WireGuardPeer:
    """One ``[Peer]`` section."""

    allowed_ips: list[AllowedIP]
    public_key: bytes | None
    endpoint: Endpoint | None = None
    keepalive_ns: int | None = None
    preshared_key: bytes | None = None

    def deduplicate_ips(self) -> None:
        seen: set[str] = set()
        unique = []
        for ip in self.allowed_ips:
            text = str(ip)
            if text not in seen:
                seen.add(text)
                unique.append(ip)
        self.allowed_ips = unique


@record
class Topology:
    location: str
    hostname: str
    port: int
    keepalive_ns: int
    subnet: IPNet
    segments: list[Segment] = field(default_factory=list)
    peers: list[Peer] = field(default_factory=list)
    leader: bool = False
    discovered_endpoints: dict[str, Endpoint | None] = field(default_factory=dict)

    def _update_endpoint(self, endpoint: Endpoint | None, key: bytes | None, keepalive_ns: int) -> Endpoint | None:
        # Only NAT'd peers (those that keep the tunnel alive) use discovered endpoints.
        if keepalive_ns == 0 or key is None:
            return endpoint
        key_text = key_str(key)
        if key_text in self.discovered_endpoints:
            found = self.discovered_endpoints[key_text]
            return found if found is not None else Endpoint(port=0)
        return endpoint

    def conf(self) -> list[WireGuardPeer]:
        """The peers of the local node's WireGuard interface (Kilo's ``Conf``)."""
        result = []
        for s in self.segments:
            if s.location == self.location:
                continue
            result.append(
                WireGuardPeer(
                    allowed_ips=[*s.allowed_ips, *s.allowed_location_ips],
                    public_key=s.key,
                    endpoint=self._update_endpoint(s.endpoint, s.key, s.keepalive_ns),
                    keepalive_ns=self.keepalive_ns,
                )
            )
        for p in self.peers:
            result.append(
                WireGuardPeer(
                    allowed_ips=list(p.allowed_ips),
                    public_key=p.public_key,
                    endpoint=self._update_endpoint(p.endpoint, p.public_key, p.keepalive_ns),
                    keepalive_ns=self.keepalive_ns,
                    preshared_key=p.preshared_key,
                )
            )
        return result

    def as_peer(self) -> WireGuardPeer | None:
        """The local segment as one peer of some other interface."""
        for s in self.segments:
            if s.location == self.location:
                return WireGuardPeer(allowed_ips=list(s.allowed_ips), public_key=s.key, endpoint=s.endpoint)
        return None

    def peer_conf(self, name: str) -> list[WireGuardPeer]:
        """The configuration of Kilo Peer ``name`` (Kilo's ``PeerConf``)."""
        keepalive: int | None = None
        psk = None
        for p in self.peers:
            if p.name == name:
                keepalive, psk = p.keepalive_ns, p.preshared_key
                break
        result = []
        for s in self.segments:
            result.append(
                WireGuardPeer(
                    allowed_ips=[*s.allowed_ips, *s.allowed_location_ips],
                    public_key=s.key,
                    endpoint=self._update_endpoint(s.endpoint, s.key, s.keepalive_ns),
                    keepalive_ns=keepalive,
                    preshared_key=psk,
                )
            )
        for p in self.peers:
            if p.name == name:
                continue
            result.append(
                WireGuardPeer(
                    allowed_ips=list(p.allowed_ips),
                    public_key=p.public_key,
                    endpoint=self._update_endpoint(p.endpoint, p.public_key, p.keepalive_ns),
                    keepalive_ns=keepalive,
                )
            )
        return result


def segment_location(node: Node, granularity: Granularity) -> str:
    if granularity == Granularity.FULL or node.internal_ip is None:
        # Without a private IP a node cannot share a location with anyone.
        return NODE_PREFIX + node.name
    return LOGICAL_PREFIX + node.location


# Why ``elect_leader`` chose its node, for doctor and ``status``.
LEADER_ANNOTATED_PUBLIC = "annotated kilo.squat.ai/leader, with a public endpoint"
LEADER_ANNOTATED = "annotated kilo.squat.ai/leader (no annotated node has a public endpoint)"
LEADER_PUBLIC = "first in name order with a public endpoint (no node is annotated kilo.squat.ai/leader)"
LEADER_FIRST = "first in name order (no node is annotated kilo.squat.ai/leader or has a public endpoint)"


def elect_leader(nodes: list[Node]) -> tuple[int, str]:
    """Kilo's ``findLeader`` and the rule that decided: nodes are sorted by name.

    The first node annotated as leader with a public endpoint wins, then the
    first annotated one, then the first with a public endpoint, then the first.
    """
    leaders: list[int] = []
    public: list[int] = []
    for i, node in enumerate(nodes):
        ip = node.endpoint.ip if node.endpoint is not None and node.endpoint.dns is None else None
        if node.leader:
            if is_public(ip):
                return i, LEADER_ANNOTATED_PUBLIC
            leaders.append(i)
        if ip is not None and is_public(ip):
            public.append(i)
    if leaders:
        return leaders[0], LEADER_ANNOTATED
    if public:
        return public[0], LEADER_PUBLIC
    return 0, LEADER_FIRST


def find_leader(nodes: list[Node]) -> int:
    return elect_leader(nodes)[0]


def deduplicate_peer_ips(peers: list[Peer]) -> list[Peer]:
    """A CIDR claimed by two peers stays with the first (peers sorted by name)."""
    seen: set[str] = set()
    result = []
    for peer in peers:
        kept = []
        for ip in peer.allowed_ips:
            text = str(ip)
            if text in seen:
                continue
            seen.add(text)
            kept.append(ip)
        result.append(
            Peer(
                name=peer.name,
                allowed_ips=kept,
                endpoint=peer.endpoint,
                public_key=peer.public_key,
                preshared_key=peer.preshared_key,
                keepalive_ns=peer.keepalive_ns,
            )
        )
    return result


class _Allocator:
    """Hands out the addresses after the subnet's network address, in order."""

    def __init__(self, subnet: IPNet) -> None:
        self.subnet = subnet
        self.width = 32 if subnet.is_v4 else 128
        self.current: int | None = int(subnet.ip)
        self.cls = ipaddress.IPv4Address if subnet.is_v4 else ipaddress.IPv6Address

    def next(self) -> Address | _NilNet | None:
        if self.current is None:
            return None
        self.current = (self.current + 1) % (1 << self.width)
        candidate = self.cls(self.current)
        if not self.subnet.contains(candidate):
            # Go keeps going once with an empty IP, then gives up.
            self.current = None
            return NIL_NET
        return candidate


def _filter_allowed_location_ips(t: Topology, ips: list[IPNet], location: str) -> list[IPNet]:
    kept = []
    for ip in ips:
        if _overlaps_anything(t, ip, location):
            continue
        kept.append(ip)
    return kept


def _overlaps_anything(t: Topology, ip: IPNet, location: str) -> bool:
    for s in t.segments:
        # Another location's allowed location IPs must not overlap at all.
        if location != s.location and any(ip.intersects(other) for other in s.allowed_location_ips):
            return True
        # Cluster ranges win: drop a range whose address some segment already routes.
        if any(other.contains(ip.ip) for other in s.allowed_ips):
            return True
    return any(ip.intersects(other) for p in t.peers for other in p.allowed_ips)


def build_topology(
    nodes: dict[str, Node],
    peers: dict[str, Peer],
    granularity: Granularity,
    hostname: str,
    port: int,
    subnet: IPNet,
    keepalive_ns: int,
) -> Topology:
    """Kilo's ``NewTopology``; ``nodes`` and ``peers`` are the ready ones."""
    by_location: dict[str, list[Node]] = {}
    for node in nodes.values():
        by_location.setdefault(segment_location(node, granularity), []).append(node)
    local = nodes[hostname]
    t = Topology(
        location=segment_location(local, granularity),
        hostname=hostname,
        port=port,
        keepalive_ns=keepalive_ns,
        subnet=subnet,
    )
    for location, members in by_location.items():
        # Sort so the result is stable.
        members.sort(key=lambda n: n.name)
        leader, leader_reason = elect_leader(members)
        if location == t.location and members[leader].name == hostname:
            t.leader = True
        allowed_ips: list[AllowedIP] = []
        location_ips: list[IPNet] = []
        seen_location_ips: set[str] = set()
        private_ips: list[Address] = []
        for node in members:
            if node.subnet is not None:
                allowed_ips.append(node.subnet)
            for ip in node.allowed_location_ips:
                if str(ip) not in seen_location_ips:
                    seen_location_ips.add(str(ip))
                    location_ips.append(ip)
            if node.internal_ip is not None:
                allowed_ips.append(one_address(node.internal_ip.ip))
                private_ips.append(node.internal_ip.ip)
        # Kilo sorts these by their text; the order shows in the output.
        location_ips.sort(key=str)
        head = members[leader]
        t.segments.append(
            Segment(
                location=location,
                allowed_ips=allowed_ips,
                endpoint=head.endpoint,
                key=head.key,
                keepalive_ns=head.keepalive_ns,
                cidrs=[n.subnet for n in members],
                hostnames=[n.name for n in members],
                leader=leader,
                private_ips=private_ips,
                allowed_location_ips=location_ips,
                leader_reason=leader_reason,
            )
        )
    # Sort the segments and peers so the result is stable.
    t.segments.sort(key=lambda s: s.location)
    t.peers = deduplicate_peer_ips(sorted(peers.values(), key=lambda p: p.name))
    t.discovered_endpoints = dict(local.discovered_endpoints or {})

    allocator = _Allocator(subnet)
    for s in t.segments:
        allocated = allocator.next()
        if allocated is None:
            raise TopologyError("failed to allocate an IP address; ran out of IP addresses")
        s.wireguard_ip = allocated
        s.allowed_ips.append(allocated if isinstance(allocated, _NilNet) else one_address(allocated))
        # The local node's table was copied first; others fill gaps in segment order.
        for node in by_location[s.location]:
            for key, endpoint in (node.discovered_endpoints or {}).items():
                t.discovered_endpoints.setdefault(key, endpoint)
        s.allowed_location_ips = _filter_allowed_location_ips(t, s.allowed_location_ips, s.location)
    return t
