"""Fuzzing the pure core with hostile Node and Peer objects.

Cluster.from_objects, graph and showconf (node and peer, every name, every
granularity, --as-peer in every output format) may fail only with KgctlError,
kgctl's own errors; whatever they print must follow Kilo's rules.
"""

from __future__ import annotations

import json
import random
import re
from typing import Any

import strategies as hs
import yaml
from hypothesis import given
from hypothesis import strategies as st

from kgctl_py.kube.decode import replace_lone_surrogates
from kgctl_py.mesh import annotations as ann
from kgctl_py.mesh.cluster import OUTPUT_FORMATS, Cluster, KgctlError, Options, go_quote, graph, showconf_node, showconf_peer
from kgctl_py.mesh.endpoint import parse_endpoint
from kgctl_py.mesh.ipnet import parse_network
from kgctl_py.mesh.key import parse_key
from kgctl_py.mesh.model import Granularity

GRANULARITIES = (Granularity.LOCATION, Granularity.FULL, Granularity.AUTO)
EXTRA = [parse_network("10.43.0.0/16"), parse_network("fd00:43::/64")]
# The order Kilo writes a [Peer] section's keys in.
PEER_KEYS = ["AllowedIPs", "Endpoint", "PersistentKeepalive", "PresharedKey", "PublicKey"]
KNOWN_ERRORS = re.compile(
    r"^(did not find any valid Kilo nodes in the cluster"
    r"|did not find any (node|peer) named .* in the cluster"
    r"|failed to determine granularity: (could not get any nodes|mesh granularity auto is not supported)"
    r"|failed to create topology: failed to allocate an IP address; ran out of IP addresses"
    r"|cannot generate config from nil peer)$",
    re.S,
)


def check_wireguard(text: str, interface_port: int | None) -> int:
    """Kilo's INI layout; returns the number of [Peer] sections."""
    text.encode("utf-8")  # printable as UTF-8
    assert "PrivateKey" not in text
    if interface_port is not None:
        head = f"[Interface]\nListenPort = {interface_port}\n"
        assert text.startswith(head), text
        text = text[len(head) :]
        if text:
            assert text.startswith("\n")
            text = text[1:]
    if not text:
        return 0
    sections = text.split("\n\n")
    for section in sections:
        lines = section.rstrip("\n").split("\n")
        assert lines[0] == "[Peer]", section
        keys = [line.split(" = ", 1)[0] for line in lines[1:]]
        assert keys == [k for k in PEER_KEYS if k in keys], section
        assert "PersistentKeepalive" in keys
        fields = dict(line.split(" = ", 1) for line in lines[1:])
        assert 0 <= int(fields["PersistentKeepalive"]) < 1 << 64
        for k in ("PublicKey", "PresharedKey"):
            if k in fields:
                assert parse_key(fields[k]) not in (None, bytes(32)), section
        if "Endpoint" in fields:
            assert parse_endpoint(fields["Endpoint"]) is not None or fields["Endpoint"].startswith(":"), section
        for cidr in fields.get("AllowedIPs", "").split(", ") if "AllowedIPs" in fields else []:
            assert cidr == "<nil>" or parse_network(cidr) is not None, section
    return len(sections)


def check_manifest(name: str, rendered: dict[str, str]) -> None:
    """--as-peer -o json|yaml: the same Peer both ways, and one Kilo would accept."""
    obj = json.loads(rendered["json"])
    assert obj == yaml.load(rendered["yaml"], Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    assert obj["kind"] == "Peer" and obj["apiVersion"] == "kilo.squat.ai/v1alpha1"
    assert obj["metadata"] == {"name": name}
    assert ann.validate_peer(obj) is None, obj
    for text in rendered.values():
        text.encode("utf-8")


def _expect_error(err: KgctlError) -> None:
    assert KNOWN_ERRORS.match(str(err)), str(err)


def exercise(node_objs: list[Any], peer_objs: list[Any], port: int = 51820) -> dict[tuple[str, ...], str]:
    """Everything kgctl can print for this cluster, keyed by command; asserts Kilo's rules on the way."""
    # What the snapshot reader and the API client hand the core: lone surrogates
    # (from \ud800 escapes) already replaced, as Go's decoder does.
    node_objs, peer_objs = (replace_lone_surrogates(objs, b"\\ud800") for objs in (node_objs, peer_objs))
    cluster = Cluster.from_objects(node_objs, peer_objs)
    ready_nodes = {n.name for n in cluster.nodes if n.ready(hs.NOW)}
    ready_peers = {p.name for p in cluster.peers if p.ready()}
    names_n = sorted({n.name for n in cluster.nodes} | {"no-such-node"})
    names_p = sorted({p.name for p in cluster.peers} | {i.name for i in cluster.invalid_peers} | {"no-such-peer"})
    results: dict[tuple[str, ...], str] = {}
    for gran in GRANULARITIES:
        opts = Options(granularity=gran, port=port)
        try:
            dot = graph(cluster, opts, hs.NOW).stdout
        except KgctlError as err:
            _expect_error(err)
            results[("graph", gran.value)] = "error: " + str(err)
            if str(err).startswith("failed to determine granularity"):
                continue  # every command stops at the same place
        else:
            results[("graph", gran.value)] = dot
            dot.encode("utf-8")
            assert dot.startswith("digraph kilo {\n") and dot.endswith("\n}\n\n"), dot
            for n in ready_nodes:
                assert f'\t"{n}" [ ' in dot
            assert 'subgraph "cluster_peers" {' in dot
        for kind, names, ready, run in (("node", names_n, ready_nodes, showconf_node), ("peer", names_p, ready_peers, showconf_peer)):
            for name in names:
                for as_peer, fmt in [(False, "wireguard")] + [(True, f) for f in OUTPUT_FORMATS]:
                    key = ("showconf", kind, name, gran.value, fmt if as_peer else "")
                    try:
                        out = run(cluster, name, opts, hs.NOW, as_peer, fmt, EXTRA if as_peer else [])
                    except KgctlError as err:
                        _expect_error(err)
                        if "did not find any" in str(err) and "named" in str(err):
                            assert name not in ready, (name, str(err))
                        results[key] = "error: " + str(err)
                        continue
                    assert name in ready
                    results[key] = out.stdout + "\x00" + out.stderr
                    if out.stderr:
                        assert kind == "node" and not out.stdout
                        assert out.stderr == f"Node {go_quote(name)} is not a leader node\n"
                        continue
                    if fmt == "wireguard":
                        sections = check_wireguard(out.stdout, port if kind == "node" and not as_peer else None)
                        if as_peer:
                            assert sections == 1
                for_manifest = {f: results.get(("showconf", kind, name, gran.value, f), "") for f in ("json", "yaml")}
                if all(v and not v.startswith("error: ") and v.endswith("\x00") for v in for_manifest.values()):
                    check_manifest(name, {f: v[:-1] for f, v in for_manifest.items()})
    return results


@hs.profile()
@given(nodes=hs.node_lists(), peers=st.lists(hs.sane_peer(), max_size=3))
def test_hostile_nodes_never_crash(nodes: list[Any], peers: list[Any]) -> None:
    exercise(nodes, peers)


@hs.profile()
@given(nodes=st.lists(hs.sane_node(), min_size=1, max_size=4), peers=hs.peer_lists(), port=st.integers(1, 65535))
def test_hostile_peers_never_crash(nodes: list[Any], peers: list[Any], port: int) -> None:
    exercise(nodes, peers, port)


@hs.profile()
@given(nodes=hs.node_lists(), peers=hs.peer_lists())
def test_hostile_cluster_never_crashes(nodes: list[Any], peers: list[Any]) -> None:
    exercise(nodes, peers)


@hs.profile(properties=True)
@given(nodes=hs.node_lists(), peers=hs.peer_lists())
def test_hostile_cluster_is_deterministic(nodes: list[Any], peers: list[Any]) -> None:
    """Hostile everything; the same input twice gives the same bytes."""
    assert exercise(nodes, peers) == exercise(nodes, peers)


def _unique_by_name(objs: list[Any]) -> list[Any]:
    seen, out = set(), []
    for o in objs:
        name = (o.get("metadata") or {}).get("name") if isinstance(o, dict) and isinstance(o.get("metadata"), dict) else None
        if isinstance(name, str) and name not in seen:
            seen.add(name)
            out.append(o)
    return out


@hs.profile(properties=True)
@given(nodes=hs.node_lists(), peers=hs.peer_lists(), seed=st.integers(0, 2**32))
def test_output_independent_of_peer_order(nodes: list[Any], peers: list[Any], seed: int) -> None:
    """Peers are sorted by name before use, so their list order must not matter.

    Restricted to peers with distinct names: the API never lists two objects
    of one name, and with duplicates the later one wins, as in kgctl.
    """
    peers = _unique_by_name(peers)
    shuffled = list(peers)
    random.Random(seed).shuffle(shuffled)
    assert exercise(nodes, peers) == exercise(nodes, shuffled)


@hs.profile(properties=True)
@given(
    nodes=st.lists(st.one_of(hs.hostile_node(), hs.sane_node()), max_size=6),
    peers=hs.peer_lists(),
    seed=st.integers(0, 2**32),
)
def test_output_independent_of_node_order(nodes: list[Any], peers: list[Any], seed: int) -> None:
    """Node list order matters to kgctl in three places, so the property
    holds only where those cannot show:

    * ``--mesh-granularity auto`` takes the first node's annotation: only
      explicit granularities (location, full) are compared;
    * the WireGuard subnet is the last listed node's ``wireguard-ip``: every
      node here carries the same one (or none);
    * ``showconf peer`` and ``graph`` build the topology as the last ready
      node sees it, whose ``discovered-endpoints`` come first: showconf peer
      is compared only when no node carries discovered endpoints (the DOT
      text never shows them).

    Names are distinct: the API never lists two nodes of one name.
    """
    nodes = _unique_by_name(nodes)
    for n in nodes:
        notes = n.get("metadata", {}).get("annotations")
        if isinstance(notes, dict):
            notes[ann.WIREGUARD_IP] = "10.4.0.1/16"
    discovered = any(isinstance(n.get("metadata", {}).get("annotations"), dict) and ann.DISCOVERED_ENDPOINTS in n["metadata"]["annotations"] for n in nodes)
    shuffled = list(nodes)
    random.Random(seed).shuffle(shuffled)
    a, b = exercise(nodes, peers), exercise(shuffled, peers)
    for key in a:
        if key[0] == "graph" and key[1] == "auto" or key[0] == "showconf" and key[3] == "auto":
            continue
        if key[:2] == ("showconf", "peer") and discovered:
            continue
        assert a[key] == b[key], key
