"""What a lab cluster looks like: locations, nodes and Kilo peers, as plain data.

The default is the blog's six-node K3s cluster; its addresses are those of the
`a-blog-6node` compatibility fixture, so the lab and the goldens describe the
same cluster.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field


@dataclass(frozen=True)
class NodeSpec:
    name: str  # Kubernetes node name, e.g. "ty1.k3s"
    location: str  # kilo.squat.ai/location
    private_ip: str  # CIDR on the location's private network, e.g. "192.168.1.226/24"
    pod_cidr: str  # spec.podCIDR
    public_ip: str | None = None  # a TEST-NET address, or None for a node without one
    server: bool = False  # K3s server (control plane) or agent

    @property
    def short(self) -> str:
        """Name without the domain, used in namespace names ("ty1")."""
        return self.name.split(".", 1)[0]

    @property
    def private_addr(self) -> str:
        return str(ipaddress.ip_interface(self.private_ip).ip)


@dataclass(frozen=True)
class PeerSpec:
    """A Kilo Peer (kilo.squat.ai/v1alpha1). `public_ip` set means the lab runs it."""

    name: str
    allowed_ips: tuple[str, ...]
    public_ip: str | None = None  # where the peer lives on the lab internet, if running
    endpoint: bool = True  # publish public_ip:51820 as spec.endpoint
    persistent_keepalive: int = 0


@dataclass(frozen=True)
class LabSpec:
    nodes: tuple[NodeSpec, ...]
    peers: tuple[PeerSpec, ...] = ()
    persistent_keepalive: int = 20  # kilo.squat.ai/persistent-keepalive on every node
    pods_per_node: int = 1  # workload pods the lab starts on each node at `up`
    # Lab-internal router addresses on the internet bridge, one per public range.
    internet_gateways: tuple[str, ...] = field(default=("198.51.100.1/24", "203.0.113.1/24"))

    @property
    def locations(self) -> list[str]:
        """Locations in first-seen order (index = private bridge number)."""
        seen: list[str] = []
        for n in self.nodes:
            if n.location not in seen:
                seen.append(n.location)
        return seen

    @property
    def server(self) -> NodeSpec:
        return next(n for n in self.nodes if n.server)

    def node(self, name: str) -> NodeSpec:
        for n in self.nodes:
            if name in (n.name, n.short):
                return n
        raise KeyError(name)

    def validate(self) -> None:
        names = [n.name for n in self.nodes]
        if len(set(names)) != len(names) or len({n.short for n in self.nodes}) != len(names):
            raise ValueError("node names (and short names) must be unique")
        if sum(n.server for n in self.nodes) != 1:
            raise ValueError("exactly one node must be the K3s server")
        if self.server.public_ip is None:
            raise ValueError("the server needs a public IP (kubeconfigs point at it)")
        gateways = [ipaddress.ip_interface(g).network for g in self.internet_gateways]
        for n in self.nodes:
            for net in (n.private_ip, n.pod_cidr):
                if not ipaddress.ip_network(net, strict=False).is_private:
                    raise ValueError(f"{n.name}: {net} is not a private range")
            if n.public_ip and not any(ipaddress.ip_address(n.public_ip) in g for g in gateways):
                raise ValueError(f"{n.name}: public IP {n.public_ip} is outside the lab internet")
        for p in self.peers:
            if p.public_ip and not any(ipaddress.ip_address(p.public_ip) in g for g in gateways):
                raise ValueError(f"peer {p.name}: {p.public_ip} is outside the lab internet")


def blog_spec() -> LabSpec:
    """The blog's cluster: five clouds, baidu with two nodes on one private network."""
    return LabSpec(
        nodes=(
            NodeSpec("ty1.k3s", "ctyun", "192.168.1.226/24", "10.42.0.0/24", "203.0.113.10", server=True),
            NodeSpec("hw1.k3s", "huaweicloud", "192.168.7.226/24", "10.42.1.0/24", "198.51.100.31"),
            NodeSpec("tx1.k3s", "tencentcloud", "172.17.0.3/20", "10.42.2.0/24", "203.0.113.53"),
            NodeSpec("ali1.k3s", "aliyun", "172.21.143.136/20", "10.42.3.0/24", "203.0.113.21"),
            NodeSpec("bd1.k3s", "baidu", "192.168.64.4/24", "10.42.4.0/24", "198.51.100.44"),
            NodeSpec("bd2.k3s", "baidu", "192.168.64.5/24", "10.42.5.0/24", None),
        ),
        peers=(
            # The operator's laptop: runs in the lab, and is where doctor runs from.
            PeerSpec("laptop", ("10.5.0.1/32",), public_ip="198.51.100.200", persistent_keepalive=10),
            # A phone that is offline: in the API only, without an endpoint.
            PeerSpec("phone", ("10.5.0.2/32",), persistent_keepalive=25),
        ),
    )
