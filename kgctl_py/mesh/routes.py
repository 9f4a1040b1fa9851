"""The routes Kilo's agent installs on a node, computed from its topology.

This follows the rules of Kilo's ``(*Topology).Routes`` (pkg/mesh/routes.go)
for the IPIP-or-no-encapsulation case doctor can judge: on a leader, other
locations' pod CIDRs, private IPs and allowed location IPs go through the
Kilo interface via their segment's WireGuard IP and Kilo Peers' allowed IPs
go straight into it; on a member, all of that (and every segment's WireGuard
IP) goes via the leader's private IP on the private interface. With
``local`` (Kilo's default) a node also routes its location's other pod CIDRs
via their nodes' private IPs.
"""

from __future__ import annotations

from kgctl_py.mesh.ipnet import Address, IPNet, ip_str, one_address
from kgctl_py.mesh.topology import Segment, Topology, _NilNet
from kgctl_py.record import record


@record(frozen=True)
class Route:
    dst: str  # CIDR text, e.g. "10.42.1.0/24"
    gateway: str | None  # the next hop; None: straight onto the interface
    kilo: bool  # through the Kilo (WireGuard) interface, else the private interface
    why: str  # what the destination is, for messages: "pod CIDR of hw1.k3s"


def _cidr(net: IPNet | None) -> str | None:
    return str(net.masked()) if net is not None else None


def _local_private_ip(t: Topology) -> Address | None:
    for s in t.segments:
        if s.location == t.location:
            for name, ip in zip(s.hostnames, s.private_ips, strict=False):
                if name == t.hostname:
                    return ip
    return None


def _own_segment(t: Topology) -> Segment | None:
    return next((s for s in t.segments if s.location == t.location), None)


def _same_location(t: Topology, s: Segment, private: Address | None) -> list[Route]:
    out: list[Route] = []
    if private is None:
        return out  # a node without a private IP is alone in its location
    for name, cidr, ip in zip(s.hostnames, s.cidrs, s.private_ips, strict=False):
        text = _cidr(cidr)
        if name == t.hostname or text is None or ip == private:
            continue
        out.append(Route(text, ip_str(ip), False, f"pod CIDR of {name}"))
    return out


def expected_routes(t: Topology, local: bool = True) -> list[Route]:
    """The routes Kilo's agent on ``t.hostname`` installs in the main table."""
    private = _local_private_ip(t)
    out: list[Route] = []
    if not t.leader:
        own = _own_segment(t)
        if own is None or not own.private_ips:
            return out
        gw = ip_str(own.private_ips[own.leader])
        leader = own.leader_name
        for s in t.segments:
            wg_ip = s.wireguard_ip
            if wg_ip is not None and not isinstance(wg_ip, _NilNet):
                out.append(Route(str(one_address(wg_ip)), gw, False, f"WireGuard IP of {s.leader_name} (via leader {leader})"))
            if s.location == t.location:
                if local:
                    out += _same_location(t, s, private)
                continue
            for name, cidr in zip(s.hostnames, s.cidrs, strict=False):
                if (text := _cidr(cidr)) is not None:
                    out.append(Route(text, gw, False, f"pod CIDR of {name} (via leader {leader})"))
            for name, ip in zip(s.hostnames, s.private_ips, strict=False):
                out.append(Route(str(one_address(ip)), gw, False, f"private IP of {name} (via leader {leader})"))
            for net in s.allowed_location_ips:
                out.append(Route(str(net.masked()), gw, False, f"allowed location IP of {s.leader_name} (via leader {leader})"))
        for p in t.peers:
            for net in p.allowed_ips:
                out.append(Route(str(net.masked()), gw, False, f"Peer {p.name} (via leader {leader})"))
        return out
    for s in t.segments:
        if s.location == t.location:
            if local:
                out += _same_location(t, s, private)
            continue
        wg_ip = s.wireguard_ip
        via = ip_str(wg_ip) if wg_ip is not None and not isinstance(wg_ip, _NilNet) else None
        endpoint_ip = t._update_endpoint(s.endpoint, s.key, s.keepalive_ns)
        endpoint_addr = endpoint_ip.ip if endpoint_ip is not None else None
        for i, (name, cidr) in enumerate(zip(s.hostnames, s.cidrs, strict=False)):
            if (text := _cidr(cidr)) is not None:
                out.append(Route(text, via, True, f"pod CIDR of {name}"))
            # A node reachable only on its endpoint's IP is not routed through itself.
            if i < len(s.private_ips) and s.private_ips[i] != endpoint_addr:
                out.append(Route(str(one_address(s.private_ips[i])), via, True, f"private IP of {name}"))
        for net in s.allowed_location_ips:
            out.append(Route(str(net.masked()), via, True, f"allowed location IP of {s.leader_name}"))
    for p in t.peers:
        for net in p.allowed_ips:
            out.append(Route(str(net.masked()), None, True, f"Peer {p.name}"))
    return out


def gateway_of(t: Topology) -> str | None:
    """A member's next hop to the mesh (its leader's private IP); None on a leader."""
    own = _own_segment(t)
    if t.leader or own is None or not own.private_ips:
        return None
    return ip_str(own.private_ips[own.leader])
