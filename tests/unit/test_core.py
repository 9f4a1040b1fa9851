"""Unit tests of the pure core, table-driven over plain dicts."""

from __future__ import annotations

import subprocess
import sys

import pytest

from kgctl_py.mesh import annotations as ann
from kgctl_py.mesh.cluster import Cluster, KgctlError, Options, graph, parse_allowed_ips, showconf_node, showconf_peer
from kgctl_py.mesh.endpoint import parse_endpoint
from kgctl_py.mesh.ipnet import is_public, normalize_ip, parse_ip, parse_network
from kgctl_py.mesh.model import Granularity
from kgctl_py.mesh.topology import find_leader

KEYS = [
    "VZ91nHoOXi6EaI2hRSVOVf1T1lQnuOMPsro+O2K2A/k=",
    "8rFb7BSihSUZVmlO2TGLxxie22BW7u149aXHuLwojaw=",
    "MdD2Pf0t+3sILnFo6CHxId8qQwoAAFbEQ22tvBSFGc0=",
    "yrN++zEziW7nQuGG8DBtyhktuyMfsgT3YHresoewt+o=",
]
NOW = 1_760_000_000


def node(name: str, key: str, endpoint: str, *, location: str = "a", pod: str = "10.42.0.0/24", **extra: str) -> dict:
    annotations = {
        ann.KEY: key,
        ann.ENDPOINT: endpoint,
        ann.LAST_SEEN: str(NOW - 5),
        ann.LOCATION: location,
        ann.GRANULARITY: "location",
        ann.INTERNAL_IP: "192.168.0.1/24",
    }
    annotations.update(extra)
    return {"kind": "Node", "metadata": {"name": name, "annotations": annotations}, "spec": {"podCIDR": pod}}


def test_core_imports_neither_kubernetes_nor_click() -> None:
    code = "import sys, kgctl_py.mesh.cluster, kgctl_py.mesh.annotations; print(sorted(m for m in sys.modules if m.split('.')[0] in ('kubernetes', 'click', 'yaml')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("10.4.0.1/16", "10.4.0.1/16"),  # host bits are kept, as Go's normalizeIP does
        ("::ffff:10.4.0.1/112", "10.4.0.1/16"),  # IPv4-mapped prints as IPv4
        ("fd00::1/64", "fd00::1/64"),
        ("10.4.0.1/255.255.0.0", None),  # Go accepts only a decimal prefix
        ("10.4.0.1", None),
        ("010.4.0.1/16", None),
        ("fe80::1%eth0/64", None),
        ("10.4.0.1/33", None),
        (" 10.0.0.0/8", None),
    ],
)
def test_normalize_ip(text: str, expected: str | None) -> None:
    result = normalize_ip(text)
    assert (None if result is None else str(result)) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("203.0.113.1:51820", "203.0.113.1:51820"),
        ("[fd00::1]:51820", "[fd00::1]:51820"),
        ("[::ffff:198.51.100.3]:1", "198.51.100.3:1"),
        ("node0.example.com:51820", "node0.example.com:51820"),
        ("1.2.3.256:51820", "1.2.3.256:51820"),  # not an IP, but a valid DNS name
        ("Node0.example.com:51820", None),  # DNS-1123 names are lower-case
        ("203.0.113.1:0", None),
        ("203.0.113.1:65536", None),
        ("203.0.113.1", None),
        ("fd00::1:51820", None),  # too many colons without brackets
        (":51820", None),
        ("", None),
    ],
)
def test_parse_endpoint(text: str, expected: str | None) -> None:
    result = parse_endpoint(text)
    assert (None if result is None else str(result)) == expected


@pytest.mark.parametrize(
    "ip, public",
    [
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("172.31.255.1", False),
        ("172.32.0.1", True),
        ("192.168.1.1", False),
        ("203.0.113.1", True),
        ("fd00::1", False),
        ("fd01::1", True),
        ("2001:db8::1", True),
    ],
)
def test_is_public(ip: str, public: bool) -> None:
    assert is_public(parse_ip(ip)) is public


def test_translate_node_overrides_and_defaults() -> None:
    obj = node(
        "n",
        KEYS[0],
        "10.0.0.1:51820",
        **{ann.FORCE_ENDPOINT: "203.0.113.9:51820", ann.FORCE_INTERNAL_IP: "-", ann.PERSISTENT_KEEPALIVE: "garbage", ann.LAST_SEEN: "yesterday"},
    )
    del obj["metadata"]["annotations"][ann.LOCATION]
    obj["metadata"]["labels"] = {"topology.kubernetes.io/region": "eu"}
    n = ann.translate_node(obj, "topology.kubernetes.io/region")
    assert str(n.endpoint) == "203.0.113.9:51820"
    assert n.internal_ip is None and n.no_internal_ip
    assert n.keepalive_ns == 0 and n.last_seen == 0 and n.location == "eu"
    assert not n.ready(NOW)  # last-seen did not parse, so it is 0


def test_location_annotation_wins_even_when_empty() -> None:
    obj = node("n", KEYS[0], "203.0.113.1:51820", location="")
    obj["metadata"]["labels"] = {"topology.kubernetes.io/region": "eu"}
    assert ann.translate_node(obj, "topology.kubernetes.io/region").location == ""


@pytest.mark.parametrize(
    "spec, reason_part",
    [
        ({"allowedIPs": ["10.5.0.1/32"], "publicKey": KEYS[0]}, None),
        ({"allowedIPs": ["10.5.0.1"], "publicKey": KEYS[0]}, "valid IP address"),
        ({"allowedIPs": ["10.5.0.1/32"], "publicKey": "short"}, "public key"),
        ({"allowedIPs": ["10.5.0.1/32"], "publicKey": KEYS[0], "persistentKeepalive": -1}, "keepalive"),
        ({"allowedIPs": ["10.5.0.1/32"], "publicKey": KEYS[0], "endpoint": {"dnsOrIP": {}, "port": 1}}, "either an endpoint"),
        ({"allowedIPs": ["10.5.0.1/32"], "publicKey": KEYS[0], "endpoint": {"dnsOrIP": {"ip": "1.2.3.4"}, "port": 0}}, "port"),
    ],
)
def test_validate_peer(spec: dict, reason_part: str | None) -> None:
    reason = ann.validate_peer({"metadata": {"name": "p"}, "spec": spec})
    if reason_part is None:
        assert reason is None
    else:
        assert reason is not None and reason_part in reason


def test_leader_prefers_annotated_public_then_public_then_first() -> None:
    c = Cluster.from_objects(
        [
            node("a", KEYS[0], "10.0.0.1:51820"),
            node("b", KEYS[1], "203.0.113.2:51820"),
            node("c", KEYS[2], "10.0.0.3:51820", **{ann.LEADER: "false"}),
        ],
        [],
    )
    assert find_leader(sorted(c.nodes, key=lambda n: n.name)) == 2  # annotated, even "false"
    c2 = Cluster.from_objects([node("a", KEYS[0], "10.0.0.1:51820"), node("b", KEYS[1], "203.0.113.2:51820")], [])
    assert find_leader(c2.nodes) == 1


def test_wireguard_ips_are_allocated_in_location_order() -> None:
    objs = [
        node("z", KEYS[0], "203.0.113.1:51820", location="alpha", pod="10.42.0.0/24"),
        node("y", KEYS[1], "203.0.113.2:51820", location="beta", pod="10.42.1.0/24", **{ann.INTERNAL_IP: "192.168.1.1/24"}),
    ]
    out = showconf_node(Cluster.from_objects(objs, []), "z", Options(), NOW).stdout
    assert "AllowedIPs = 10.42.1.0/24, 192.168.1.1/32, 10.4.0.2/32" in out


def test_non_leader_is_reported_on_stderr_only() -> None:
    objs = [node("a", KEYS[0], "203.0.113.1:51820"), node("b", KEYS[1], "10.0.0.2:51820", **{ann.INTERNAL_IP: "192.168.0.2/24"})]
    out = showconf_node(Cluster.from_objects(objs, []), "b", Options(), NOW)
    assert out.stdout == "" and out.stderr == 'Node "b" is not a leader node\n'


def test_errors_use_kgctl_messages() -> None:
    with pytest.raises(KgctlError, match="could not get any nodes"):
        graph(Cluster([], []), Options(), NOW)
    stale = node("a", KEYS[0], "203.0.113.1:51820", **{ann.LAST_SEEN: str(NOW - 60)})
    with pytest.raises(KgctlError, match="did not find any valid Kilo nodes"):
        graph(Cluster.from_objects([stale], []), Options(Granularity.FULL), NOW)
    with pytest.raises(KgctlError, match='did not find any peer named "x"'):
        showconf_peer(Cluster.from_objects([node("a", KEYS[0], "203.0.113.1:51820")], []), "x", Options(), NOW)
    with pytest.raises(KgctlError, match='got "10.43.0.1"'):
        parse_allowed_ips(["10.43.0.1"])


def test_duplicate_peer_ips_stay_with_the_first_peer_by_name() -> None:
    peers = [
        {"metadata": {"name": "b"}, "spec": {"allowedIPs": ["10.5.0.1/32"], "publicKey": KEYS[2]}},
        {"metadata": {"name": "a"}, "spec": {"allowedIPs": ["10.5.0.1/32", "10.5.0.2/32"], "publicKey": KEYS[3]}},
    ]
    out = showconf_node(Cluster.from_objects([node("n", KEYS[0], "203.0.113.1:51820")], peers), "n", Options(), NOW).stdout
    sections = out.split("\n\n")
    assert "AllowedIPs = 10.5.0.1/32, 10.5.0.2/32" in sections[1]
    assert "AllowedIPs" not in sections[2]  # b lost its only IP to a


def test_dot_peer_label_keeps_kgctl_literal_newline() -> None:
    peers = [{"metadata": {"name": "phone"}, "spec": {"allowedIPs": ["10.5.0.2/32"], "publicKey": KEYS[2]}}]
    dot = graph(Cluster.from_objects([node("n", KEYS[0], "203.0.113.1:51820")], peers), Options(), NOW).stdout
    assert '"phone" [ label="phone\\n\n", shape=ellipse ];' in dot
    assert dot.endswith("}\n\n")


def test_pod_cidr_is_masked() -> None:
    assert str(parse_network("10.42.0.5/24")) == "10.42.0.0/24"


@pytest.mark.parametrize(
    "name, line",
    [
        ("ty1.k3s", "  name: ty1.k3s"),
        ("123", '  name: "123"'),  # go-yaml double-quotes what would read back as a number
        ("1e3", '  name: "1e3"'),
        ("y", '  name: "y"'),  # YAML 1.1 booleans, as go-yaml v2 resolves them
        ("on", '  name: "on"'),
        ("1.2.3.256", "  name: 1.2.3.256"),
    ],
)
def test_as_peer_yaml_quotes_like_go_yaml(name: str, line: str) -> None:
    obj = node(name, KEYS[0], "203.0.113.1:51820")
    out = showconf_node(Cluster.from_objects([obj], []), name, Options(), NOW, as_peer=True, output="yaml").stdout
    assert line in out.splitlines()
