"""connect's pure planning: the WireGuard config and the routes for a Peer.

The peers come from the same topology code as `showconf peer`, so on the
blog cluster they must render to exactly kgctl's golden `showconf peer
laptop`; the routes are Kilo's PeerRoutes, written out here by hand.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from kubeapi import load_fixture

from kgctl_py.connect.plan import Route, plan, render_setconf
from kgctl_py.mesh.cluster import Cluster, KgctlError
from kgctl_py.mesh.duration import parse_duration
from kgctl_py.mesh.ipnet import parse_network
from kgctl_py.mesh.key import key_str, parse_key
from kgctl_py.mesh.model import Granularity
from kgctl_py.mesh.topology import WireGuardPeer
from kgctl_py.mesh.wgconf import render_conf

BLOG = Path(__file__).resolve().parents[1] / "compat" / "cases" / "a-blog-6node"  # the repo's copy: a fresh clone has it
pytestmark = pytest.mark.skipif(not BLOG.is_dir(), reason="compat fixtures not available")

PRIVATE = parse_key("YHh1ckRxWpw4e2dQGWBcCvbO3aP9i5HV1b3Yl9pq8n0=")
ALI1, BD1, TY1, HW1, TX1 = "10.4.0.1", "10.4.0.2", "10.4.0.3", "10.4.0.4", "10.4.0.5"


@pytest.fixture(scope="module")
def blog() -> tuple[list[dict], int]:
    objects, meta = load_fixture(BLOG)
    return objects, meta["capturedAt"]


def cluster_of(objects: list[dict]) -> Cluster:
    nodes = [o for o in objects if o["kind"] == "Node"]
    peers = [o for o in objects if o["kind"] == "Peer"]
    return Cluster.from_objects(nodes, peers)


def routes_text(routes: list[Route], iface: str = "kilo0") -> list[str]:
    return [" ".join(r.ip_args(iface)) for r in routes]


def test_peers_are_exactly_showconf_peer(blog) -> None:
    objects, now = blog
    p = plan(cluster_of(objects), "laptop", now)
    assert render_conf(p.peers) == (BLOG / "007-showconf_peer_laptop.stdout").read_text()


def test_routes_are_kilos_peer_routes(blog) -> None:
    objects, now = blog
    p = plan(cluster_of(objects), "laptop", now)
    # Segments in location order (aliyun, baidu, ctyun, huaweicloud, tencentcloud):
    # pod CIDRs, private IPs, allowed location IPs via the leader's WireGuard IP,
    # then the WireGuard IP itself; then the other Peers' allowed IPs, not our own.
    assert routes_text(p.routes) == [
        f"10.42.3.0/24 via {ALI1} dev kilo0 onlink proto static",
        f"172.21.143.136/32 via {ALI1} dev kilo0 onlink proto static",
        f"{ALI1}/32 dev kilo0 proto static",
        f"10.42.4.0/24 via {BD1} dev kilo0 onlink proto static",
        f"10.42.5.0/24 via {BD1} dev kilo0 onlink proto static",
        f"192.168.64.4/32 via {BD1} dev kilo0 onlink proto static",
        f"192.168.64.5/32 via {BD1} dev kilo0 onlink proto static",
        f"{BD1}/32 dev kilo0 proto static",
        f"10.42.0.0/24 via {TY1} dev kilo0 onlink proto static",
        f"192.168.1.226/32 via {TY1} dev kilo0 onlink proto static",
        f"{TY1}/32 dev kilo0 proto static",
        f"10.42.1.0/24 via {HW1} dev kilo0 onlink proto static",
        f"192.168.7.226/32 via {HW1} dev kilo0 onlink proto static",
        f"{HW1}/32 dev kilo0 proto static",
        f"10.42.2.0/24 via {TX1} dev kilo0 onlink proto static",
        f"172.17.0.3/32 via {TX1} dev kilo0 onlink proto static",
        f"{TX1}/32 dev kilo0 proto static",
        "10.5.0.2/32 dev kilo0 proto static",
    ]


def test_extra_allowed_ips_go_to_the_first_node_and_via_the_first_segment(blog) -> None:
    objects, now = blog
    extra = [parse_network("10.43.0.0/16")]
    p = plan(cluster_of(objects), "laptop", now, extra_allowed_ips=extra)
    # ali1.k3s sorts first: its segment carries the service CIDR, as in Kilo.
    assert [str(ip) for ip in p.peers[0].allowed_ips] == ["10.42.3.0/24", "172.21.143.136/32", "10.4.0.1/32", "10.43.0.0/16"]
    assert routes_text(p.routes)[-1] == f"10.43.0.0/16 via {ALI1} dev kilo0 onlink proto static"
    # The cluster's own objects are not changed by planning.
    assert all(not n.allowed_location_ips for n in cluster_of(objects).nodes)


def test_the_subnet_comes_from_the_first_node_with_a_wireguard_ip(blog) -> None:
    objects, now = blog
    objects = copy.deepcopy(objects)
    nodes = [o for o in objects if o["kind"] == "Node"]
    nodes[0]["metadata"]["annotations"]["kilo.squat.ai/wireguard-ip"] = "10.9.0.1/16"
    p = plan(cluster_of(objects), "laptop", now)
    assert str(p.topology.subnet) == "10.9.0.0/16"
    assert "10.42.3.0/24 via 10.9.0.1 dev kilo0 onlink proto static" in routes_text(p.routes)


def test_granularity_full_gives_one_segment_per_node(blog) -> None:
    objects, now = blog
    p = plan(cluster_of(objects), "laptop", now, Granularity.FULL)
    assert len(p.topology.segments) == 6
    assert len([r for r in p.routes if r.gateway is None and str(r.destination).startswith("10.4.")]) == 6


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda objs: [o for o in objs if o["kind"] != "Peer"], 'did not find any peer named "laptop" in the cluster'),
        (lambda objs: [o for o in objs if o["kind"] != "Node"], "failed to determine granularity: could not get any nodes"),
        (lambda objs: _without_wireguard_ips(objs), "did not find a valid Kilo subnet on any node"),
    ],
)
def test_errors_carry_kilos_messages(blog, mutate, message) -> None:
    objects, now = blog
    with pytest.raises(KgctlError) as err:
        plan(cluster_of(mutate(copy.deepcopy(objects))), "laptop", now)
    assert str(err.value) == message


def test_no_ready_nodes(blog) -> None:
    objects, now = blog
    with pytest.raises(KgctlError, match="did not find any valid Kilo nodes in the cluster"):
        plan(cluster_of(objects), "laptop", now + 3600)


def _without_wireguard_ips(objects: list[dict]) -> list[dict]:
    for o in objects:
        if o["kind"] == "Node":
            o["metadata"]["annotations"].pop("kilo.squat.ai/wireguard-ip", None)
    return objects


def test_setconf_text_carries_the_key_and_drops_what_wg_cannot_take() -> None:
    key_a = parse_key("VZ91nHoOXi6EaI2hRSVOVf1T1lQnuOMPsro+O2K2A/k=")
    key_b = parse_key("mepTNNvb+1rbOFDmEHMkI9bx8Skh5auBLLbx2f/68WI=")
    from kgctl_py.mesh.endpoint import Endpoint
    from kgctl_py.mesh.ipnet import parse_ip
    from kgctl_py.mesh.topology import NIL_NET

    peers = [
        WireGuardPeer([parse_network("10.42.3.0/24"), NIL_NET], key_a, Endpoint(51820, parse_ip("203.0.113.21")), 10 * 10**9, key_b),
        WireGuardPeer([parse_network("10.5.0.2/32")], key_b, Endpoint(0, udp=True), 0),
        WireGuardPeer([parse_network("10.5.0.3/32")], None),  # no key: wg cannot take it
    ]
    assert render_setconf(peers, PRIVATE, 51820) == (
        "[Interface]\n"
        f"PrivateKey = {key_str(PRIVATE)}\n"
        "ListenPort = 51820\n"
        "\n"
        "[Peer]\n"
        "PublicKey = VZ91nHoOXi6EaI2hRSVOVf1T1lQnuOMPsro+O2K2A/k=\n"
        "PresharedKey = mepTNNvb+1rbOFDmEHMkI9bx8Skh5auBLLbx2f/68WI=\n"
        "Endpoint = 203.0.113.21:51820\n"
        "PersistentKeepalive = 10\n"
        "AllowedIPs = 10.42.3.0/24\n"
        "\n"
        "[Peer]\n"
        "PublicKey = mepTNNvb+1rbOFDmEHMkI9bx8Skh5auBLLbx2f/68WI=\n"
        "AllowedIPs = 10.5.0.2/32\n"
    )


def test_route_destinations_drop_host_bits() -> None:
    from kgctl_py.mesh.ipnet import normalize_ip

    route = Route(normalize_ip("10.5.0.1/24"))
    assert route.key == "10.5.0.0/24"
    assert route.ip_args("wg0") == ["10.5.0.0/24", "dev", "wg0", "proto", "static"]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30.0),
        ("1m30s", 90.0),
        ("500ms", 0.5),
        ("1h", 3600.0),
        ("1.5s", 1.5),
        ("0", 0.0),
        ("-2s", -2.0),
        ("", None),
        ("30", None),
        ("s", None),
        ("1x", None),
        ("1s2", None),
        (".s", None),
    ],
)
def test_resync_period_reads_go_durations(text: str, seconds: float | None) -> None:
    assert parse_duration(text) == seconds
