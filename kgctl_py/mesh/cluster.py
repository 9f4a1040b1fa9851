"""What kgctl does with a cluster: pick the ready nodes and peers, the
granularity and the WireGuard subnet, build the topology, render the output.

Inputs are the Node and Peer objects in the order the API listed them; the
time is passed in.  Errors carry kgctl's exact messages.
"""

from __future__ import annotations

from typing import Any

from kgctl_py.mesh import annotations as ann
from kgctl_py.mesh.dot import render_dot
from kgctl_py.mesh.ipnet import IPNet, parse_network
from kgctl_py.mesh.model import (
    DEFAULT_PORT,
    DEFAULT_SUBNET,
    DEFAULT_TOPOLOGY_LABEL,
    Granularity,
    Node,
    Peer,
)
from kgctl_py.mesh.topology import (
    Topology,
    TopologyError,
    WireGuardPeer,
    build_topology,
)
from kgctl_py.mesh.wgconf import render_conf
from kgctl_py.record import field, record

OUTPUT_FORMATS = ("json", "wireguard", "yaml")


class KgctlError(Exception):
    """An error kgctl reports with this message and exit status 1."""


@record
class InvalidPeer:
    name: str
    reason: str


@record
class Cluster:
    """The cluster's Kilo objects, translated, in list order."""

    nodes: list[Node]
    peers: list[Peer]
    invalid_peers: list[InvalidPeer] = field(default_factory=list)

    @classmethod
    def from_objects(cls, node_objs: list[dict[str, Any]], peer_objs: list[dict[str, Any]], topology_label: str = DEFAULT_TOPOLOGY_LABEL) -> Cluster:
        nodes = [ann.translate_node(obj, topology_label) for obj in node_objs if isinstance(obj, dict)]
        peers, invalid = [], []
        for obj in peer_objs:
            if not isinstance(obj, dict):
                continue
            reason = ann.validate_peer(obj)
            if reason is None:
                peers.append(ann.translate_peer(obj))
            else:
                name = (obj.get("metadata") or {}).get("name", "") if isinstance(obj.get("metadata"), dict) else ""
                invalid.append(InvalidPeer(str(name), reason))
        return cls(nodes, peers, invalid)


@record
class Options:
    granularity: Granularity = Granularity.AUTO
    port: int = DEFAULT_PORT


@record
class Output:
    stdout: str = ""
    stderr: str = ""


def determine_granularity(requested: Granularity, nodes: list[Node]) -> Granularity:
    """``auto`` means the granularity annotation of the first node listed."""
    if requested != Granularity.AUTO:
        return requested
    if not nodes:
        raise KgctlError("failed to determine granularity: could not get any nodes")
    if nodes[0].granularity not in ("location", "full"):
        raise KgctlError("failed to determine granularity: mesh granularity auto is not supported")
    return Granularity(nodes[0].granularity)


@record
class _Mesh:
    nodes: dict[str, Node]
    peers: dict[str, Peer]
    subnet: IPNet
    last_ready: str


def _select(cluster: Cluster, now: int) -> _Mesh:
    subnet = parse_network(DEFAULT_SUBNET)
    assert subnet is not None
    nodes: dict[str, Node] = {}
    last_ready = ""
    for node in cluster.nodes:
        if node.ready(now):
            nodes[node.name] = node
            last_ready = node.name
        # Any node's WireGuard IP (ready or not) names the subnet; the last one wins.
        if node.wireguard_ip is not None:
            subnet = node.wireguard_ip
    if not nodes:
        raise KgctlError("did not find any valid Kilo nodes in the cluster")
    peers = {p.name: p for p in cluster.peers if p.ready()}
    return _Mesh(nodes, peers, subnet.masked(), last_ready)


def _topology(mesh: _Mesh, granularity: Granularity, hostname: str, port: int, keepalive_ns: int) -> Topology:
    try:
        return build_topology(mesh.nodes, mesh.peers, granularity, hostname, port, mesh.subnet, keepalive_ns)
    except TopologyError as err:
        raise KgctlError(f"failed to create topology: {err}") from None


def topology_for_graph(cluster: Cluster, opts: Options, now: int) -> Topology:
    granularity = determine_granularity(opts.granularity, cluster.nodes)
    mesh = _select(cluster, now)
    local = mesh.nodes[mesh.last_ready]
    return _topology(mesh, granularity, mesh.last_ready, 0, local.keepalive_ns)


def graph(cluster: Cluster, opts: Options, now: int) -> Output:
    # kgctl prints the DOT text with Println: one more newline.
    return Output(render_dot(topology_for_graph(cluster, opts, now)) + "\n")


def _with_extra_ips(peer: WireGuardPeer, extra: list[IPNet]) -> WireGuardPeer:
    peer.allowed_ips = list(peer.allowed_ips) + list(extra)
    peer.deduplicate_ips()
    return peer


def _render_as_peer(name: str, peer: WireGuardPeer, output: str) -> str:
    if output == "wireguard":
        return render_conf([peer])
    from kgctl_py.mesh.manifest import peer_manifest, to_json, to_yaml  # only --as-peer -o yaml|json

    manifest = peer_manifest(name, peer)
    return to_json(manifest) if output == "json" else to_yaml(manifest)


def node_topology(cluster: Cluster, name: str, opts: Options, now: int) -> tuple[Topology, Node]:
    """The topology as node ``name`` sees it, and that node."""
    granularity = determine_granularity(opts.granularity, cluster.nodes)
    mesh = _select(cluster, now)
    if name not in mesh.nodes:
        raise KgctlError(f"did not find any node named {go_quote(name)} in the cluster")
    node = mesh.nodes[name]
    return _topology(mesh, granularity, name, opts.port, node.keepalive_ns), node


def showconf_node(
    cluster: Cluster, name: str, opts: Options, now: int, as_peer: bool = False, output: str = "wireguard", allowed_ips: list[IPNet] | None = None
) -> Output:
    t, node = node_topology(cluster, name, opts, now)
    # kgctl calls a node a leader when some peer of the mesh carries its key.
    if not any(p.public_key == node.key for p in t.peer_conf("")):
        return Output(stderr=f"Node {go_quote(name)} is not a leader node\n")
    if not as_peer:
        return Output(render_conf(t.conf(), listen_port=opts.port))
    peer = t.as_peer()
    if peer is None:
        raise KgctlError("cannot generate config from nil peer")
    return Output(_render_as_peer(name, _with_extra_ips(peer, allowed_ips or []), output))


def showconf_peer(
    cluster: Cluster, name: str, opts: Options, now: int, as_peer: bool = False, output: str = "wireguard", allowed_ips: list[IPNet] | None = None
) -> Output:
    granularity = determine_granularity(opts.granularity, cluster.nodes)
    mesh = _select(cluster, now)
    if name not in mesh.peers:
        raise KgctlError(f"did not find any peer named {go_quote(name)} in the cluster")
    target = mesh.peers[name]
    t = _topology(mesh, granularity, mesh.last_ready, DEFAULT_PORT, target.keepalive_ns)
    if not as_peer:
        return Output(render_conf(t.peer_conf(name)))
    # The peer as stored: its allowed IPs are not de-duplicated against other peers.
    peer = WireGuardPeer(
        allowed_ips=list(target.allowed_ips),
        public_key=target.public_key,
        endpoint=target.endpoint,
        keepalive_ns=target.keepalive_ns,
        preshared_key=target.preshared_key,
    )
    return Output(_render_as_peer(name, _with_extra_ips(peer, allowed_ips or []), output))


def parse_allowed_ips(values: list[str]) -> list[IPNet]:
    """``--allowed-ips``: each value must be a CIDR; its network is used."""
    nets = []
    for value in values:
        net = parse_network(value)
        if net is None:
            raise KgctlError(f"allowed-ips must contain only valid CIDRs; got {go_quote(value)}")
        nets.append(net)
    return nets


def go_quote(text: str) -> str:
    """Go's ``%q``."""
    out = ['"']
    for ch in text:
        if ch == '"' or ch == "\\":
            out.append("\\" + ch)
        elif ch in "\a\b\f\n\r\t\v":
            out.append({"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}[ch])
        elif ch.isprintable():
            out.append(ch)
        elif ord(ch) < 0x100:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) < 0x10000:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    out.append('"')
    return "".join(out)
