"""Pure parts of doctor's data-path checks (issue 13), on captured text and on
topologies built from plain Node objects: expected routes, route/rp_filter
judges, and the other judges of the data-path checks."""

from __future__ import annotations

from kgctl_py.doctor import routes as R
from kgctl_py.mesh import annotations as ann
from kgctl_py.mesh.cluster import Cluster, Options, node_topology
from kgctl_py.mesh.routes import expected_routes, gateway_of

KEYS = [
    "VZ91nHoOXi6EaI2hRSVOVf1T1lQnuOMPsro+O2K2A/k=",
    "8rFb7BSihSUZVmlO2TGLxxie22BW7u149aXHuLwojaw=",
    "MdD2Pf0t+3sILnFo6CHxId8qQwoAAFbEQ22tvBSFGc0=",
]
NOW = 1_760_000_000


def node(name: str, key: str, endpoint: str, location: str, private: str, pod: str) -> dict:
    notes = {ann.KEY: key, ann.ENDPOINT: endpoint, ann.LAST_SEEN: str(NOW - 5), ann.LOCATION: location, ann.GRANULARITY: "location", ann.INTERNAL_IP: private}
    return {"kind": "Node", "metadata": {"name": name, "annotations": notes}, "spec": {"podCIDR": pod}}


def peer(name: str, key: str, ip: str) -> dict:
    return {"kind": "Peer", "metadata": {"name": name}, "spec": {"allowedIPs": [ip], "publicKey": key}}


# Two locations: a (leader a1 with member a2) and b (b1 alone); one Peer.
CLUSTER = Cluster.from_objects(
    [
        node("a1", KEYS[0], "203.0.113.1:51820", "a", "192.168.0.1/24", "10.42.0.0/24"),
        node("a2", KEYS[1], "192.168.0.2:51820", "a", "192.168.0.2/24", "10.42.1.0/24"),
        node("b1", KEYS[2], "203.0.113.2:51820", "b", "172.16.0.1/24", "10.42.2.0/24"),
    ],
    [peer("laptop", "yrN++zEziW7nQuGG8DBtyhktuyMfsgT3YHresoewt+o=", "10.5.0.1/32")],
)


def topo(name: str):  # noqa: ANN201 -- a Topology
    return node_topology(CLUSTER, name, Options(), NOW)[0]


def as_text(routes: list) -> set[tuple[str, str | None, bool]]:
    return {(r.dst, r.gateway, r.kilo) for r in routes}


def test_node_routes_of_a_leader_follow_kilo_rules() -> None:
    t = topo("a1")
    assert t.leader and gateway_of(t) is None
    # Locations sort a, b: WireGuard IPs 10.4.0.1 (a) and 10.4.0.2 (b).
    assert as_text(expected_routes(t)) == {
        ("10.42.1.0/24", "192.168.0.2", False),  # same location: straight to a2
        ("10.42.2.0/24", "10.4.0.2", True),
        ("172.16.0.1/32", "10.4.0.2", True),
        ("10.5.0.1/32", None, True),
    }


def test_node_routes_of_a_member_go_via_the_leaders_private_ip() -> None:
    t = topo("a2")
    assert not t.leader and gateway_of(t) == "192.168.0.1"
    assert as_text(expected_routes(t)) == {
        ("10.4.0.1/32", "192.168.0.1", False),
        ("10.4.0.2/32", "192.168.0.1", False),
        ("10.42.0.0/24", "192.168.0.1", False),  # a1's pods, straight (same location)
        ("10.42.2.0/24", "192.168.0.1", False),
        ("172.16.0.1/32", "192.168.0.1", False),
        ("10.5.0.1/32", "192.168.0.1", False),
    }


# What `sh -c script(...)` printed on a lab member (iproute2), trimmed.
MEMBER_OUT = """\
10.4.0.1 via 192.168.0.1 dev eth0 proto static onlink
10.4.0.2 via 192.168.0.1 dev eth0 proto static onlink
10.5.0.1 via 192.168.0.1 dev eth0 proto static onlink
10.42.0.0/24 via 192.168.0.1 dev eth0 proto static onlink
10.42.1.0/24 dev cni0 proto kernel scope link src 10.42.1.1
10.42.2.0/24 via 192.168.0.1 dev eth0 proto static onlink
172.16.0.1 via 192.168.0.1 dev eth0 proto static onlink
192.168.0.0/24 dev eth0 proto kernel scope link src 192.168.0.2
#kgctl-py get 203.0.113.9
203.0.113.9 dev kilo0 src 192.168.0.2 uid 0
    cache
#kgctl-py get 192.168.0.1
192.168.0.1 dev eth0 src 192.168.0.2 uid 0
    cache
#kgctl-py rp_filter
/proc/sys/net/ipv4/conf/all/rp_filter:0
/proc/sys/net/ipv4/conf/eth0/rp_filter:1
/proc/sys/net/ipv4/conf/kilo0/rp_filter:2
/proc/sys/net/ipv4/conf/lo/rp_filter:0
"""


def test_node_routes_parse_and_judge_member_text() -> None:
    live = R.parse(MEMBER_OUT)
    assert live.gets["203.0.113.9"] == R.LiveRoute("203.0.113.9", None, "kilo0")
    assert live.gets["192.168.0.1"].dev == "eth0"
    assert live.rp_filter == {"all": 0, "eth0": 1, "kilo0": 2, "lo": 0}
    expected = expected_routes(topo("a2"))
    assert R.judge_routes(expected, live.table, "kilo0") == []
    # 203.0.113.9 is nobody's in the mesh: it must not enter kilo0.
    api = R.judge_api(["203.0.113.9", "192.168.0.1"], live.gets, expected, "kilo0")
    assert len(api) == 1 and "203.0.113.9 enters kilo0" in api[0]


def test_node_routes_name_a_route_that_misses_the_leader() -> None:
    text = MEMBER_OUT.replace("10.42.2.0/24 via 192.168.0.1 dev eth0", "10.42.2.0/24 dev kilo0")
    problems = R.judge_routes(expected_routes(topo("a2")), R.parse(text).table, "kilo0")
    assert problems == ["10.42.2.0/24 (pod CIDR of b1 (via leader a1)) enters kilo0, Kilo routes it via 192.168.0.1"]
    gone = MEMBER_OUT.replace("10.5.0.1 via 192.168.0.1 dev eth0 proto static onlink\n", "")
    assert R.judge_routes(expected_routes(topo("a2")), R.parse(gone).table, "kilo0") == ["10.5.0.1/32 (Peer laptop (via leader a1)): no route"]


def test_node_routes_api_across_the_mesh_may_enter_kilo0() -> None:
    # On the leader a1, b1's private IP is across the mesh: kilo0 is right.
    gets = {"172.16.0.1": R.LiveRoute("172.16.0.1", "10.4.0.2", "kilo0")}
    assert R.judge_api(["172.16.0.1"], gets, expected_routes(topo("a1")), "kilo0") == []


def test_rp_filter_strict_is_the_larger_of_all_and_the_interface() -> None:
    live = R.parse(MEMBER_OUT)
    assert R.strict_interfaces(live.rp_filter, ["kilo0", "eth0"]) == ["eth0"]
    assert R.effective_rp_filter({"all": 1, "eth0": 2}, "eth0") == 2  # max(1, 2): loose
    assert R.effective_rp_filter({"all": 1, "eth0": 0}, "eth0") == 1
    assert R.judge_rp_filter({"all": 2, "eth0": 0}, ["eth0"]) == []
    assert "strict (1) on eth0" in R.judge_rp_filter(live.rp_filter, ["kilo0", "eth0"])[0]


def test_node_routes_script_quotes_addresses() -> None:
    text = R.script(["203.0.113.9"])
    assert "ip route get 203.0.113.9" in text and "grep -H . /proc/sys/net/ipv4/conf/*/rp_filter" in text
