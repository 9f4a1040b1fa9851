"""What ``connect`` wants the host to look like: pure, no I/O.

From the cluster's Nodes and Peers this computes, the way Kilo's ``kgctl
connect`` does on every resync, the WireGuard configuration of the peer
(the same ``Topology.peer_conf`` that ``showconf peer`` prints) and the
routes Kilo's ``PeerRoutes`` would install over the interface.
"""

from __future__ import annotations

import ipaddress

from kgctl_py.mesh.cluster import Cluster, KgctlError, determine_granularity, go_quote
from kgctl_py.mesh.endpoint import Endpoint
from kgctl_py.mesh.ipnet import Address, IPNet, one_address
from kgctl_py.mesh.key import ZERO_KEY, key_str
from kgctl_py.mesh.model import Granularity, duration_seconds
from kgctl_py.mesh.topology import Topology, TopologyError, WireGuardPeer, build_topology
from kgctl_py.record import record, replace

MAX_KEEPALIVE = 65535  # wg(8) refuses anything larger


@record(frozen=True)
class Route:
    """One route over the WireGuard interface; ``gateway`` set means ``via GW onlink``."""

    destination: IPNet
    gateway: Address | None = None

    @property
    def key(self) -> str:
        """The destination as the kernel keeps it: host bits cleared."""
        return str(self.destination.masked())

    def ip_args(self, interface: str) -> list[str]:
        """The words after ``ip route replace|del``."""
        args = [self.key]
        if self.gateway is not None:
            args += ["via", str(self.gateway)]
        args += ["dev", interface]
        if self.gateway is not None:
            # The WireGuard IPs are not on a connected subnet of the interface.
            args.append("onlink")
        return args + ["proto", "static"]


@record
class Plan:
    """The desired state of the host for one resync."""

    peers: list[WireGuardPeer]
    routes: list[Route]
    topology: Topology


def plan(
    cluster: Cluster,
    name: str,
    now: int,
    granularity: Granularity = Granularity.AUTO,
    port: int = 51820,
    extra_allowed_ips: list[IPNet] | None = None,
) -> Plan:
    """kgctl connect's ``sync``: the peers and routes of Peer ``name``.

    Differences from ``showconf peer`` are Kilo's own: the WireGuard subnet
    comes from the *first* node listed with a WireGuard IP, and the extra
    cluster CIDRs (``--allowed-ips``) join the allowed location IPs of the
    alphabetically first ready node.
    """
    extra = list(extra_allowed_ips or [])
    granularity = determine_granularity(granularity, cluster.nodes)
    nodes = {}
    hostname = ""
    subnet: IPNet | None = None
    for node in cluster.nodes:
        if node.ready(now):
            nodes[node.name] = node
            hostname = node.name
        if node.wireguard_ip is not None and subnet is None:
            subnet = node.wireguard_ip
    if not nodes:
        raise KgctlError("did not find any valid Kilo nodes in the cluster")
    if subnet is None:
        raise KgctlError("did not find a valid Kilo subnet on any node")
    if extra:
        first = min(nodes)
        # Copy: the cluster's objects stay as the API described them.
        nodes[first] = replace(nodes[first], allowed_location_ips=list(nodes[first].allowed_location_ips) + extra)
    peers = {p.name: p for p in cluster.peers if p.ready()}
    if name not in peers:
        raise KgctlError(f"did not find any peer named {go_quote(name)} in the cluster")
    try:
        t = build_topology(nodes, peers, granularity, hostname, port, subnet.masked(), peers[name].keepalive_ns)
    except TopologyError as err:
        raise KgctlError(f"failed to create topology: {err}") from None
    return Plan(t.peer_conf(name), peer_routes(t, name, extra), t)


def peer_routes(t: Topology, name: str, extra: list[IPNet]) -> list[Route]:
    """Kilo's ``PeerRoutes``: everything the mesh routes, over the interface.

    Segment ranges go via the segment's WireGuard IP (its leader); other
    Peers' allowed IPs go straight to the interface, as do the leaders'
    WireGuard IPs themselves. A later route for the same destination
    replaces an earlier one, as ``ip route replace`` would.
    """
    routes: dict[str, Route] = {}

    def add(route: Route) -> None:
        routes.pop(route.key, None)
        routes[route.key] = route

    for s in t.segments:
        gw = s.wireguard_ip
        if not isinstance(gw, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
            continue  # the WireGuard subnet ran out: this segment is unreachable
        for cidr in s.cidrs:
            if cidr is not None:
                add(Route(cidr, gw))
        for private in s.private_ips:
            add(Route(one_address(private), gw))
        for location_ip in s.allowed_location_ips:
            add(Route(location_ip, gw))
        add(Route(one_address(gw)))
    for p in t.peers:
        if p.name == name:
            continue  # no route to ourselves
        for allowed in p.allowed_ips:
            add(Route(allowed))
    first = t.segments[0].wireguard_ip if t.segments else None
    if isinstance(first, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
        for cidr in extra:
            add(Route(cidr, first))
    return list(routes.values())


def render_setconf(peers: list[WireGuardPeer], private_key: bytes, listen_port: int) -> str:
    """The configuration for ``wg setconf``/``wg syncconf``, private key included.

    Only ever written to wg's stdin, never to a file or the terminal.
    Entries wg cannot take (no key, no address, a discovered endpoint
    without an IP) are left out, as wgctrl would ignore them.
    """
    out = ["[Interface]", f"PrivateKey = {key_str(private_key)}", f"ListenPort = {listen_port}"]
    for peer in peers:
        if peer.public_key is None or peer.public_key == ZERO_KEY:
            continue
        out += ["", "[Peer]", f"PublicKey = {key_str(peer.public_key)}"]
        if peer.preshared_key is not None and peer.preshared_key != ZERO_KEY:
            out.append(f"PresharedKey = {key_str(peer.preshared_key)}")
        endpoint = _endpoint_text(peer.endpoint)
        if endpoint:
            out.append(f"Endpoint = {endpoint}")
        keepalive = duration_seconds(peer.keepalive_ns or 0)
        if 0 < keepalive <= MAX_KEEPALIVE:
            out.append(f"PersistentKeepalive = {keepalive}")
        ips = [str(ip) for ip in peer.allowed_ips if isinstance(ip, IPNet)]
        if ips:
            out.append("AllowedIPs = " + ", ".join(ips))
    return "\n".join(out) + "\n"


def _endpoint_text(endpoint: Endpoint | None) -> str:
    if endpoint is None or endpoint.port == 0 or (endpoint.ip is None and endpoint.dns is None):
        return ""
    return str(endpoint)
