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


# --- pod.dns / pod.service ------------------------------------------------------------------------

from kgctl_py.doctor import datapath as D  # noqa: E402
from kgctl_py.doctor.kube import ExecOutcome  # noqa: E402

# busybox 1.35 nslookup through the lab's DNAT'd ClusterIP (AAAA refused, A answered).
NSLOOKUP_OK = """Server:\t\t10.43.0.10
Address:\t10.43.0.10:53

Name:\tkubernetes.default.svc.cluster.local
Address: 10.43.0.1

"""


def test_pod_dns_judge_reads_the_answer_not_the_exit_code() -> None:
    ok, detail = D.judge_nslookup(ExecOutcome(NSLOOKUP_OK, "** server can't find kubernetes.default.svc.cluster.local: REFUSED\n", 1))
    assert ok and detail == "kubernetes.default.svc.cluster.local is 10.43.0.1"
    ok, detail = D.judge_nslookup(ExecOutcome(";; connection timed out; no servers could be reached\n", "", 1))
    assert not ok and detail == ";; connection timed out; no servers could be reached"
    # A server that answers for another name does not count.
    assert not D.judge_nslookup(ExecOutcome(NSLOOKUP_OK.replace("kubernetes.default", "other.default"), "", 0))[0]
    assert D.judge_nslookup(ExecOutcome(error="timed out"))[1] == "exec failed: timed out"


def test_pod_service_judge_connect() -> None:
    assert D.judge_connect(ExecOutcome("", "", 0)) == (True, "TCP connect succeeded")
    assert D.judge_connect(ExecOutcome("", "nc: timed out\n", 1)) == (False, "nc: timed out")


def test_pod_dns_culprit_names_the_only_location_that_works() -> None:
    text = D.culprit(["aliyun", "baidu"], ["ctyun"], ["ctyun"], "the cluster DNS (10.43.0.10)", "ctyun (ty1.k3s)")
    assert text.startswith("only ctyun (ty1.k3s) gets through to the cluster DNS (10.43.0.10)")
    assert D.culprit(["a", "b"], [], ["a"], "x").startswith("no location gets through to x")
    assert D.culprit([], ["a"], ["a"], "x") == ""
    # Failures elsewhere than "all but home" are left to the per-location findings.
    assert D.culprit(["baidu"], ["ctyun", "aliyun"], ["ctyun"], "x") == ""


# --- wireguard.endpoint ---------------------------------------------------------------------------

from kgctl_py.doctor import churn as C  # noqa: E402


def test_wireguard_endpoint_churn_is_a_moved_endpoint() -> None:
    first = C.parse_endpoints(f"{KEYS[0]}\t203.0.113.2:51820\n{KEYS[1]}\t198.51.100.200:40001\n{KEYS[2]}\t(none)\n")
    assert first == {KEYS[0]: "203.0.113.2:51820", KEYS[1]: "198.51.100.200:40001", KEYS[2]: ""}
    second = dict(first, **{KEYS[1]: "198.51.100.200:40005", KEYS[2]: "192.0.2.7:51820"})
    names = {KEYS[0]: "b1", KEYS[1]: "peer laptop"}
    # A peer that had no endpoint and got one has not churned: it just shook hands.
    assert C.judge_churn(first, second, names) == [("peer laptop", "198.51.100.200:40001", "198.51.100.200:40005")]
    assert C.judge_churn(first, first, names) == []


# --- wireguard.drift: Kilo's blind spot ----------------------------------------------------------

from kgctl_py.doctor import wg as W  # noqa: E402
from kgctl_py.mesh.endpoint import parse_endpoint  # noqa: E402
from kgctl_py.mesh.ipnet import parse_network  # noqa: E402
from kgctl_py.mesh.key import parse_key  # noqa: E402
from kgctl_py.mesh.topology import WireGuardPeer  # noqa: E402

# Sorted by key text: "8rFb…" < "MdD2…" < "VZ91…".
K_A, K_B, K_C = sorted(KEYS)


def wgpeer(key: str, ip: str, endpoint: str | None) -> WireGuardPeer:
    net = parse_network(ip)
    assert net is not None
    return WireGuardPeer([net], parse_key(key), parse_endpoint(endpoint) if endpoint else None)


def showconf(*peers: tuple[str, str, str | None]) -> W.LiveInterface:
    text = "[Interface]\nListenPort = 51820\n"
    for key, ip, endpoint in peers:
        text += f"\n[Peer]\nPublicKey = {key}\nAllowedIPs = {ip}\n" + (f"Endpoint = {endpoint}\n" if endpoint else "")
    return W.parse_showconf(text)


EXPECTED = [wgpeer(K_A, "10.42.1.0/24", "203.0.113.1:51820"), wgpeer(K_B, "10.5.0.2/32", None), wgpeer(K_C, "10.42.2.0/24", "203.0.113.2:51820")]


def test_wireguard_drift_after_an_endpointless_peer_is_kilos_blind_spot() -> None:
    # K_C's allowed IPs drifted; K_B (an offline Peer) has no endpoint either side and sorts before it.
    live = showconf((K_A, "10.42.1.0/24", "203.0.113.1:51820"), (K_B, "10.5.0.2/32", None), (K_C, "10.42.9.0/24", "203.0.113.2:51820"))
    assert W.blind_spot(live, EXPECTED) == (K_B, [K_C])
    # A stale endpoint after it is the same blind spot.
    live = showconf((K_A, "10.42.1.0/24", "203.0.113.1:51820"), (K_B, "10.5.0.2/32", None), (K_C, "10.42.2.0/24", "198.51.100.9:51820"))
    assert W.blind_spot(live, EXPECTED) == (K_B, [K_C])


def test_wireguard_drift_kilo_sees_is_not_a_blind_spot() -> None:
    # Drift before the endpoint-less peer: Kilo compares it and reconciles.
    live = showconf((K_A, "10.42.7.0/24", "203.0.113.1:51820"), (K_B, "10.5.0.2/32", None), (K_C, "10.42.9.0/24", "203.0.113.2:51820"))
    assert W.blind_spot(live, EXPECTED) is None
    # A missing peer changes the count, which Kilo checks first.
    assert W.blind_spot(showconf((K_A, "10.42.1.0/24", "203.0.113.1:51820"), (K_C, "10.42.9.0/24", None)), EXPECTED) is None
    # The Peer has a live endpoint (it roamed in): Kilo goes on comparing.
    live = showconf((K_A, "10.42.1.0/24", "203.0.113.1:51820"), (K_B, "10.5.0.2/32", "192.0.2.5:51820"), (K_C, "10.42.9.0/24", "203.0.113.2:51820"))
    assert W.blind_spot(live, EXPECTED) is None


# --- net.mtu --------------------------------------------------------------------------------------

from kgctl_py.doctor import mtu as M  # noqa: E402


def test_net_mtu_bisection_finds_the_largest_payload_within_its_steps() -> None:
    tried: list[int] = []

    def passes(size: int) -> bool:
        tried.append(size)
        return size <= 1308  # what the lab's 1400-byte black hole lets through

    best = M.bisect(56, 1392, passes)
    assert len(tried) == M.BISECT_STEPS
    assert 1308 - 11 <= best <= 1308 and passes(best)
    assert M.bisect(56, 57, passes) == 56  # nothing between: no probe needed


def test_net_mtu_ladder() -> None:
    assert M.judge_ladder(1420, 1420, 1500, "eth1", "kilo0") == []
    assert M.judge_ladder(1500, 1420, 1500, "eth1", "kilo0") == [
        "pod eth0 MTU 1500 > kilo0 MTU 1420: full-size pod packets must be fragmented or dropped at kilo0"
    ]
    assert "kilo0 MTU 1420 > ens5 MTU 1450 - 60" in M.judge_ladder(1420, 1420, 1450, "ens5", "kilo0")[0]
    assert M.judge_ladder(1420, 1420, 1480, "eth0", "kilo0", version=6) != []


def test_net_mtu_parses_node_text_and_names_the_culprit() -> None:
    text = "1420\n#kgctl-py get\n203.0.113.2 via 198.51.100.1 dev eth1 src 198.51.100.31 uid 0\n    cache\n#kgctl-py links\n/sys/class/net/eth1/mtu:1500\n/sys/class/net/kilo0/mtu:1420\n"
    assert M.parse_node(text) == M.NodeMtu(1420, "eth1", 1500)
    locs = ["a", "b", "c", "d"]
    pairs = [(x, y) for i, x in enumerate(locs) for y in locs[i + 1 :]]
    assert M.culprit([("a", "c"), ("b", "c"), ("c", "d")], pairs) == "c"
    assert M.culprit([("a", "c"), ("b", "c")], pairs) is None  # c <-> d crosses: not c's uplink
    assert M.culprit([("a", "b")], pairs) is None
    ok = ExecOutcome("PING x (x): 1392 data bytes\n\n--- x ping statistics ---\n2 packets transmitted, 1 packets received, 50% packet loss\n", "", 0)
    assert M.received(ok) and not M.received(ExecOutcome("2 packets transmitted, 0 packets received, 100% packet loss\n", "", 1))


# --- kilo.metrics ---------------------------------------------------------------------------------

from kgctl_py.doctor import metrics as X  # noqa: E402

# The tail of a real kg /metrics page (Go and process collectors cut).
METRICS = """# HELP go_goroutines Number of goroutines that currently exist.
# TYPE go_goroutines gauge
go_goroutines 41
# HELP kilo_errors_total Number of errors that occurred while administering the mesh.
# TYPE kilo_errors_total counter
kilo_errors_total{event="apply"} 2
kilo_errors_total{event="local"} 1
# HELP kilo_leader Leadership status of the node.
# TYPE kilo_leader gauge
kilo_leader 1
# HELP kilo_nodes Number of nodes in the mesh.
# TYPE kilo_nodes gauge
kilo_nodes 6
# HELP kilo_peers Number of peers in the mesh.
# TYPE kilo_peers gauge
kilo_peers 2
# HELP kilo_reconciles_total Number of reconciliation attempts.
# TYPE kilo_reconciles_total counter
kilo_reconciles_total 1.234e+03
"""


def test_kilo_metrics_parse_sums_series_and_keeps_only_kilo() -> None:
    assert X.parse(METRICS) == {"kilo_errors_total": 3.0, "kilo_leader": 1.0, "kilo_nodes": 6.0, "kilo_peers": 2.0, "kilo_reconciles_total": 1234.0}


def test_kilo_metrics_label_values_may_hold_braces_and_quotes() -> None:
    text = 'kilo_errors_total{event="re}sync",msg="a \\"}\\" b"} 2\nkilo_errors_total{event="x"} 1\nkilo_nodes 4\n'
    assert X.parse(text) == {"kilo_errors_total": 3.0, "kilo_nodes": 4.0}


def test_kilo_metrics_judge() -> None:
    m = X.parse(METRICS)
    assert X.judge(m, m, nodes=6, peers=2, leader=True) == []
    grown = dict(m, kilo_errors_total=5.0)
    assert X.judge(m, grown, 6, 2, True) == ["kilo_errors_total grew from 3 to 5 in 3 s: the agent keeps failing (see its log)"]
    problems = X.judge(m, m, nodes=5, peers=2, leader=False)
    assert problems[0] == "kilo_nodes = 6, kgctl-py counts 5 ready"
    assert "kilo_leader = 1, but kgctl-py's topology makes it not the leader" in problems[1]
    assert X.judge({}, {}, 1, 0, False) == ["kilo_nodes is missing", "kilo_peers is missing", "kilo_leader is missing"]


from kgctl_py.doctor import probe as P  # noqa: E402


def test_pod_output_with_non_ascii_digits_is_garbage_not_a_crash() -> None:
    # A pod's output is not trusted: "²".isdigit() holds and int() then raises; Arabic-Indic digits int() would read;
    # int() refuses more than 4300 digits with a ValueError.
    for odd in ("²", "٥١٨٢٠", "9" * 5000):
        assert M.parse_node(f"{odd}\n#kgctl-py links\n/sys/class/net/eth1/mtu:{odd}\n") == M.NodeMtu(None, "", None)
        assert R.parse(f"#kgctl-py rp_filter\n/proc/sys/net/ipv4/conf/eth0/rp_filter:{odd}\n").rp_filter == {}
        assert P.parse(["10.4.0.1"], 0, f"kgctl-ping 10.4.0.1 {odd} out\n", "")["10.4.0.1"].status.value == "unknown"
        iface = W.parse_dump(f"priv\tpub\t{odd}\toff\nkey\t(none)\t(none)\t10.4.0.1/32\t{odd}\t0\t0\toff\n")
        assert iface.listen_port is None and [p.latest_handshake for p in iface.peers.values()] == [0]
        assert W.parse_showconf(f"[Interface]\nListenPort = {odd}\n").listen_port is None


def test_pod_output_with_garbage_ping_numbers_is_garbage_not_a_crash() -> None:
    from kgctl_py.doctor.ping import judge_ping

    many = "9" * 5000
    assert judge_ping(0, f"{many} packets transmitted, {many} packets received\n", "").status.value == "fail"
    assert not M.received(ExecOutcome(f"2 packets transmitted, {many} packets received\n", "", 0))
    # An average that is no number, or too big for JSON (which has no Infinity), is no RTT.
    for avg in ("1.2.3", ".", "9" * 400):
        r = judge_ping(0, f"3 packets transmitted, 3 packets received\nround-trip min/avg/max = 0.1/{avg}/0.3 ms\n", "")
        assert (r.status.value, r.rtt_ms, r.detail) == ("pass", None, "3/3 replies")
