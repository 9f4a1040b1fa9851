"""The mesh as Graphviz DOT, byte for byte as kgctl prints it.

kgctl builds its graph with the gographviz library, whose writer fixes the
layout of the text: graph attributes sorted by name, then every edge in the
order it was added, then the subgraphs sorted by name, each with its
attributes and its children sorted by name.  ``_Graph`` is that model, so that
corner cases (a peer named like a node, say) come out the same.
"""

from __future__ import annotations

from kgctl_py.mesh.endpoint import Endpoint
from kgctl_py.mesh.ipnet import Address, IPNet, ip_str
from kgctl_py.mesh.topology import NIL_NET, Topology, _NilNet


def _quote(text: str) -> str:
    # kgctl wraps names in quotes without escaping anything inside.
    return f'"{text}"'


class _Graph:
    def __init__(self, name: str) -> None:
        self.name = name
        self.attrs: dict[str, str] = {}
        self.node_attrs: dict[str, dict[str, str]] = {}
        self.children: dict[str, set[str]] = {}
        self.subgraph_attrs: dict[str, dict[str, str]] = {}
        # Rendered lines: full granularity has O(nodes²) edges, and plain strings
        # keep the garbage collector from walking them again and again.
        self.edges: list[str] = []
        self._edge_pairs: set[tuple[str, str]] = set()

    def add_subgraph(self, name: str, attrs: dict[str, str]) -> None:
        self.subgraph_attrs.setdefault(name, {}).update(attrs)
        self.children.setdefault(name, set())

    def add_node(self, parent: str, name: str, attrs: dict[str, str]) -> None:
        # gographviz merges the attributes of a node added twice.
        self.node_attrs.setdefault(name, {}).update(attrs)
        self.children.setdefault(parent, set()).add(name)

    def add_edge(self, src: str, dst: str, attr_text: str) -> None:
        """``attr_text`` is ``_attr_list`` of the edge's attributes, rendered once by the caller."""
        self.edges.append(f"\t{src}->{dst}[ {attr_text} ];\n")
        self._edge_pairs.add((src, dst))

    def has_edge(self, src: str, dst: str) -> bool:
        return (src, dst) in self._edge_pairs

    def sorted_children(self, parent: str) -> list[str]:
        return sorted(self.children.get(parent, ()))

    def render(self) -> str:
        out = [f"digraph {self.name} {{\n"]
        out.extend(f"\t{k}={v};\n" for k, v in sorted(self.attrs.items()))
        out.extend(self.edges)
        for name in sorted(self.subgraph_attrs):
            out.append(f"\tsubgraph {name} {{\n")
            out.extend(f"\t{k}={v};\n" for k, v in sorted(self.subgraph_attrs[name].items()))
            for child in self.sorted_children(name):
                out.append(f"\t{child} [ {_attr_list(self.node_attrs[child])} ];\n")
            out.append("\n}\n;\n")
        out.append("\n}\n")
        return "".join(out)


def _attr_list(attrs: dict[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(attrs.items()))


def _node_label(
    location: str, name: str, cidr: IPNet | None, private: Address | None, wireguard_ip: Address | _NilNet | None, endpoint: Endpoint | None
) -> str:
    parts = [location, name, "<nil>" if cidr is None else str(cidr)]
    if private is not None:
        parts.append(ip_str(private))
    if wireguard_ip is not None:
        parts.append(str(wireguard_ip) if isinstance(wireguard_ip, _NilNet) else ip_str(wireguard_ip))
    endpoint_text = "" if endpoint is None else str(endpoint)
    if endpoint_text:
        parts.append(endpoint_text)
    return _quote("\\n".join(parts))


def render_dot(t: Topology) -> str:
    """kgctl's ``graph`` text, without the extra newline kgctl's Println adds."""
    g = _Graph("kilo")
    # Go masks the local leader's WireGuard CIDR; an exhausted one prints <nil>.
    local_ip = next((s.wireguard_ip for s in t.segments if s.location == t.location), None)
    exhausted = t.leader and local_ip is NIL_NET
    g.attrs["label"] = _quote("<nil>" if exhausted else str(t.subnet.masked()))
    g.attrs["labelloc"] = "t"
    g.attrs["outputorder"] = "nodesfirst"
    g.attrs["overlap"] = "false"
    shape = {"shape": "ellipse"}
    both = _attr_list({"dir": "both"})
    dashed = _attr_list({"dir": "both", "style": "dashed"})

    leaders = []
    for s in t.segments:
        sub = _quote(f"cluster_location_{s.location}")
        g.add_subgraph(sub, {"label": _quote(s.location), "style": '"dashed,rounded"'})
        for j, hostname in enumerate(s.hostnames):
            node = _quote(hostname)
            g.add_node(sub, node, shape)
            wireguard_ip = endpoint = None
            if j == s.leader:
                wireguard_ip, endpoint = s.wireguard_ip, s.endpoint
                g.node_attrs[node]["rank"] = "1"
            private = s.private_ips[j] if s.private_ips else None
            g.node_attrs[node]["label"] = _node_label(s.location, hostname, s.cidrs[j], private, wireguard_ip, endpoint)
        members = g.sorted_children(sub)
        for i, member in enumerate(members):
            if i != s.leader:
                g.add_edge(members[s.leader], member, both)
        leaders.append(_quote(s.hostnames[s.leader]))

    for i, a in enumerate(leaders):
        for b in leaders[i + 1 :]:
            if not g.has_edge(a, b):
                g.add_edge(a, b, both)

    peers_sub = _quote("cluster_peers")
    g.add_subgraph(peers_sub, {"label": _quote("peers"), "style": '"dashed,rounded"'})
    for p in t.peers:
        node = _quote(p.name)
        g.add_node(peers_sub, node, shape)
        peer_endpoint = "" if p.endpoint is None else str(p.endpoint)
        g.node_attrs[node]["label"] = _quote(f"{p.name}\\n{peer_endpoint}\n")
    peer_nodes = g.sorted_children(peers_sub)
    for leader in leaders:
        for peer in peer_nodes:
            g.add_edge(leader, peer, dashed)
    return g.render()
