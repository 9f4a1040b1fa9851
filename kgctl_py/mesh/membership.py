"""Why kgctl leaves a Node or Peer out of ``graph`` and ``showconf``.

One place for Kilo's membership rules (``Node.Ready``, ``Peer.Ready``, Peer
validation, and the by-name maps kgctl builds), so that doctor's
``kilo.hidden`` and ``status`` give the same reasons.  A Node's reasons are
empty exactly when ``Node.ready(now)`` holds; a Peer's when ``Peer.ready()``.
"""

from __future__ import annotations

from kgctl_py.mesh.cluster import Cluster, InvalidPeer
from kgctl_py.mesh.key import ZERO_KEY
from kgctl_py.mesh.model import READY_WINDOW_SECONDS, Node, Peer
from kgctl_py.record import record


def age_text(seconds: int) -> str:
    """An age as doctor and status print it: 45s, 3m05s, 2h07m, 3d4h."""
    seconds = abs(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    if seconds < 86400:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 86400}d{seconds % 86400 // 3600}h"


def _node_reasons(node: Node, now: int) -> list[str]:
    out = []
    if node.key is None:
        out.append("no key (kilo.squat.ai/key missing or not a WireGuard key)")
    elif node.key == ZERO_KEY:
        out.append("all-zero key")
    ep = node.endpoint
    if ep is None:
        out.append("no endpoint (kilo.squat.ai/endpoint and force-endpoint missing or unparsable)")
    elif ep.ip is None and ep.dns is None:
        out.append("endpoint has neither an IP nor a DNS name")
    elif ep.port == 0:
        out.append("endpoint port is 0")
    if node.subnet is None:
        out.append("no pod CIDR (spec.podCIDR missing or not a CIDR)")
    if node.last_seen == 0:
        out.append("no last-seen: Kilo never checked in")
    elif now - node.last_seen >= READY_WINDOW_SECONDS:
        out.append(f"stale last-seen: {age_text(now - node.last_seen)} ago (limit {READY_WINDOW_SECONDS}s)")
    return out


def _peer_reasons(peer: Peer) -> list[str]:
    out = []
    if not peer.allowed_ips:
        out.append("no allowed IPs")
    if peer.public_key is None:
        out.append("no public key")
    elif peer.public_key == ZERO_KEY:
        out.append("all-zero public key")
    return out


DUPLICATE = "the name appears twice in the list; kgctl keeps the last one"
NO_MESH = "no node is in the mesh (kgctl: did not find any valid Kilo nodes)"


def why_hidden(obj: Node | Peer | InvalidPeer, now: int) -> list[str]:
    """Kilo's reasons for leaving ``obj`` out of the mesh; empty when it is in."""
    if isinstance(obj, Node):
        return _node_reasons(obj, now)
    if isinstance(obj, InvalidPeer):
        return [f"invalid Peer: {obj.reason}"]
    return _peer_reasons(obj)


@record(frozen=True)
class Member:
    """One listed Node or Peer and whether kgctl meshes it."""

    kind: str  # "node" or "peer"
    name: str
    obj: Node | Peer | InvalidPeer
    reasons: tuple[str, ...]
    # Index in the API's list, among objects of its kind.
    index: int

    @property
    def in_mesh(self) -> bool:
        return not self.reasons


def members(cluster: Cluster, now: int) -> list[Member]:
    """Every Node, then every Peer (valid or not), with the reasons it is hidden.

    kgctl keys the ready nodes and peers by name, so of two ready objects
    with one name only the last one listed counts.
    """
    out: list[Member] = []
    node_reasons = [why_hidden(n, now) for n in cluster.nodes]
    last_ready = {n.name: i for i, n in enumerate(cluster.nodes) if not node_reasons[i]}
    for i, node in enumerate(cluster.nodes):
        reasons = node_reasons[i]
        if not reasons and last_ready[node.name] != i:
            reasons.append(DUPLICATE)
        out.append(Member("node", node.name, node, tuple(reasons), i))
    peer_reasons = [why_hidden(p, now) for p in cluster.peers]
    if not last_ready:
        # Without a ready node there is no mesh for a Peer to join.
        for reasons in peer_reasons:
            reasons.append(NO_MESH)
    last_peer = {p.name: i for i, p in enumerate(cluster.peers) if not peer_reasons[i]}
    for i, peer in enumerate(cluster.peers):
        reasons = peer_reasons[i]
        if not reasons and last_peer[peer.name] != i:
            reasons.append(DUPLICATE)
        out.append(Member("peer", peer.name, peer, tuple(reasons), i))
    for i, bad in enumerate(cluster.invalid_peers):
        out.append(Member("peer", bad.name, bad, tuple(why_hidden(bad, now)), len(cluster.peers) + i))
    return out
