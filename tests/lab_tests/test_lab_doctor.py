"""`kgctl-py doctor -o json` against the lab (issue 4): the healthy lab passes,
and each injected fault fails exactly its check, naming the right node, with
nothing else failing but what follows from the fault.

Doctor runs from the operator's laptop (tests/lab/README.md), so the checks
that reach public IPs see the lab internet.

Per-fault table (FAULTS below); `scope` is the nodes the fault concerns: every
failing finding, and every failing ping pair, must involve one of them.

| fault | must fail (subject) | may also fail, and why |
| --- | --- | --- |
| 1 ip_forward=0 on bd2 (member) | node.ip-forward (bd2), pod.ping (pairs with bd2) | - |
| 1 ip_forward=0 on bd1 (leader of bd2) | node.ip-forward (bd1), pod.ping (pairs with bd1 or bd2, blamed on bd1 alone) | - |
| 2 UDP 51820 dropped on hw1 | pod.ping (pairs with hw1: huaweicloud is cut off) | wireguard.handshake: hw1's handshakes age past 3 min |
| 3 wrong force-endpoint on hw1 | k3s.node-external-ip (hw1) | pod.ping, wireguard.handshake: other leaders aim at the wrong address until hw1 sends and they roam |
| 4 stale last-seen on hw1 | kilo.last-seen (hw1), pod.ping (pairs with hw1: dropped from the mesh) | - |
| 5 certificate without ty1's public IP | api.tls-san (ty1) | - |
| 6 node-args of tx1 without metrics-bind-address | k3s.metrics-bind-address (tx1) | - |
| 8 203.0.113.10 routed into bd2's kilo0 | node.routes (bd2) | - |
| 9 rp_filter=1 on bd2 (member) | node.routes (bd2) | - |
| 10 UDP 53 to CoreDNS dropped on ty1 unless from its pods | pod.dns (every location but ctyun, and the cluster culprit) | - |
| 11 TCP 6443 from kilo0 dropped on ty1 | pod.service (every location but ctyun, and the cluster culprit) | - |
| 12 the laptop's endpoint moves every second (NAT churn) | wireguard.endpoint (ty1) | - |
| 13 hw1 drops WireGuard packets over 1400 bytes | net.mtu (huaweicloud, and its pairs) | - |
| 14 bd2's agent reports leading, 5 nodes, growing errors | kilo.metrics (bd2) | - |
| 7 ty1's peer ali1 removed by hand | wireguard.drift (ty1), wireguard.handshake (ty1), pod.ping (ty1 <-> ali1) | wireguard.handshake on ali1: ty1 ignores its handshakes, so they age past 3 min |

pod.dns and pod.service may also fail for a location whose probe pod a fault
cuts off (faults 1 on bd1, 2, 3, 4 and 7): DNS and Services cross the mesh too.

Faults 3 and 4 change only the API, so the test calls `lab.resync()` (what
Kilo's agents would do). Fault 6 has no network effect; doctor fails it as a
departure from the runbook (docs/checks/k3s.metrics-bind-address.md).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from lab import Lab

from kgctl_py.doctor.registry import CHECKS

pytest_plugins = ["lab.fixtures"]  # lab_cluster, clean_lab

pytestmark = pytest.mark.lab

DOCTOR_TIMEOUT = 150  # doctor takes 10-20 s here; its own pod wait is 120 s

Pair = tuple[str, str]


def _k3s(short: str) -> str:
    return f"{short}.k3s"


def pairs_with(*shorts: str) -> Callable[[list[str]], set[Pair]]:
    names = {_k3s(s) for s in shorts}
    return lambda nodes: {(a, b) for a in nodes for b in nodes if a != b and (a in names or b in names)}


def pairs_between(x: str, y: str) -> Callable[[list[str]], set[Pair]]:
    ends = {_k3s(x), _k3s(y)}
    return lambda nodes: {(a, b) for a in nodes for b in nodes if a != b and {a, b} == ends}


@dataclass(frozen=True)
class Fault:
    name: str
    inject: Callable[[Lab], object]
    scope: frozenset[str]  # short node names
    expect: dict[str, tuple[str, set[str]]]  # check id -> (its status, subjects it must name)
    cut: Callable[[list[str]], set[Pair]] | None = None  # exactly these ping pairs fail
    allow: dict[str, str] = field(default_factory=dict)  # check id -> why it may fail too
    resync: bool = False
    exit: int = 1
    passing: dict[str, set[str]] = field(default_factory=dict)  # check id -> subjects that must still pass


# A location whose probe pod is cut off also loses DNS and Services (they cross the mesh too).
CUT_PROBE = {"pod.dns": "the cut-off location's probe pod cannot reach CoreDNS", "pod.service": "nor the API server's Service"}

FAULTS = [
    Fault(
        "ip-forward-member",
        lambda lab: lab.fault_ip_forward("bd2"),
        frozenset({"bd2"}),
        {"node.ip-forward": ("fail", {"bd2.k3s"}), "pod.ping": ("fail", set())},
        cut=pairs_with("bd2"),
    ),
    Fault(
        "ip-forward-leader",
        lambda lab: lab.fault_ip_forward("bd1"),
        frozenset({"bd1"}),
        {"node.ip-forward": ("fail", {"bd1.k3s"}), "pod.ping": ("fail", set())},
        # bd1 forwards for its own pod and, as baidu's leader, for bd2's.
        cut=pairs_with("bd1", "bd2"),
        allow=dict(CUT_PROBE),
    ),
    Fault(
        "drop-wireguard",
        lambda lab: lab.fault_drop_wireguard("hw1"),
        frozenset({"hw1"}),
        {"pod.ping": ("fail", set())},
        cut=pairs_with("hw1"),
        allow={"wireguard.handshake": "hw1 receives no handshakes; older than 3 min they fail", **CUT_PROBE},
    ),
    Fault(
        "force-endpoint",
        lambda lab: lab.fault_force_endpoint("hw1", "198.51.100.99:51820"),
        frozenset({"hw1"}),
        {"k3s.node-external-ip": ("fail", {"hw1.k3s"})},
        allow={
            "pod.ping": "other leaders aim at 198.51.100.99 until hw1 sends and WireGuard roams back",
            "wireguard.handshake": "handshakes to hw1 go to the wrong address until it roams back",
            **CUT_PROBE,
        },
        resync=True,
    ),
    Fault(
        "stale-last-seen",
        lambda lab: lab.fault_stale_last_seen("hw1", age=3600),
        frozenset({"hw1"}),
        # A stale node is also left out of the mesh: kilo.hidden names it with that reason.
        {"kilo.last-seen": ("fail", {"hw1.k3s"}), "kilo.hidden": ("fail", {"hw1.k3s"}), "pod.ping": ("fail", set())},
        cut=pairs_with("hw1"),
        resync=True,
        allow=dict(CUT_PROBE),
    ),
    Fault("cert-without-public-ip", lambda lab: lab.fault_cert_without_public_ip(), frozenset({"ty1"}), {"api.tls-san": ("fail", {"ty1.k3s"})}),
    Fault(
        "node-args-without-metrics",
        lambda lab: lab.fault_node_args_without_metrics("tx1"),
        frozenset({"tx1"}),
        {"k3s.metrics-bind-address": ("fail", {"tx1.k3s"})},
    ),
    Fault(
        "remove-peer",
        lambda lab: lab.fault_remove_peer("ty1", "ali1"),
        frozenset({"ty1", "ali1"}),
        {"wireguard.drift": ("fail", {"ty1.k3s"}), "wireguard.handshake": ("fail", {"ty1.k3s"}), "pod.ping": ("fail", set())},
        cut=pairs_between("ty1", "ali1"),
        allow={
            "wireguard.handshake": "ali1's handshakes with ty1 go unanswered; older than 3 min they fail",
            "pod.dns": "aliyun's probe pod cannot reach CoreDNS on ty1",
            "pod.service": "nor the API server on ty1",
        },
    ),
]

FAULTS += [
    Fault(
        "node_routes-api-into-kilo0",
        lambda lab: lab.fault_api_route_into_kilo("bd2"),
        frozenset({"bd2"}),
        {"node.routes": ("fail", {"bd2.k3s"})},
    ),
    Fault(
        "rp_filter-strict-member",
        lambda lab: lab.fault_strict_rp_filter("bd2"),
        frozenset({"bd2"}),
        {"node.routes": ("fail", {"bd2.k3s"})},
    ),
]

OTHER_LOCATIONS = {"aliyun", "baidu", "huaweicloud", "tencentcloud"}  # all but ctyun (ty1: server, CoreDNS)
FAULTS += [
    Fault(
        "pod_dns-udp53-blocked-to-dns-location",
        lambda lab: lab.fault_block_dns(),
        frozenset({"ty1", "ali1", "bd1", "bd2", "hw1", "tx1"}),
        {"pod.dns": ("fail", OTHER_LOCATIONS | {"cluster"})},
        passing={"pod.dns": {"ctyun"}},
    ),
    Fault(
        "pod_service-clusterip-silent-across-locations",
        lambda lab: lab.fault_block_service(),
        frozenset({"ty1", "ali1", "bd1", "bd2", "hw1", "tx1"}),
        {"pod.service": ("fail", OTHER_LOCATIONS | {"cluster"})},
        passing={"pod.service": {"ctyun"}},
    ),
]

FAULTS += [
    Fault(
        "wireguard_endpoint-nat-churn",
        lambda lab: lab.fault_nat_churn("laptop", "ty1"),
        frozenset({"ty1", "ali1", "bd1", "hw1", "tx1"}),  # the laptop talks to every leader
        {"wireguard.endpoint": ("fail", {"ty1.k3s"})},
    ),
]

FAULTS += [
    Fault(
        "net_mtu-black-hole-on-an-uplink",
        lambda lab: lab.fault_mtu_black_hole("hw1", 1400),
        frozenset({"hw1"}),
        {"net.mtu": ("fail", {"huaweicloud"})},
    ),
]

FAULTS += [
    Fault(
        "kilo_metrics-agent-disagrees",
        lambda lab: lab.fault_metrics_disagree("bd2"),
        frozenset({"bd2"}),
        {"kilo.metrics": ("fail", {"bd2.k3s"})},
    ),
]

XFAIL: dict[str, str] = {}


def doctor(lab: Lab) -> tuple[int, dict[str, Any]]:
    proc = lab.kgctl("doctor", "-o", "json", operator=True, check=False, timeout=DOCTOR_TIMEOUT)
    assert proc.returncode in (0, 1), proc.stderr.decode()
    report = json.loads(proc.stdout)
    assert report["kind"] == "DoctorReport"
    return proc.returncode, report


def checks(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["id"]: c for cat in report["categories"] for c in cat["checks"]}


def failing_pairs(ping: dict[str, Any]) -> set[Pair]:
    data = ping["data"]
    nodes = data["nodes"]
    return {(a, b) for i, a in enumerate(nodes) for j, b in enumerate(nodes) if data["status"][i][j] == "fail"}


def in_scope(finding: dict[str, Any], scope: set[str]) -> bool:
    """The finding is about a scope node: its subject, or named in its detail."""
    return any(n in finding["node"] or n in finding["detail"] for n in scope)


def test_healthy_lab_passes_every_check(clean_lab: Lab) -> None:
    lab = clean_lab
    code, report = doctor(lab)
    by_id = checks(report)
    assert set(by_id) == {c.id for c in CHECKS if not c.pre_only}
    assert {i: c["status"] for i, c in by_id.items() if c["status"] == "fail"} == {}
    assert code == 0
    assert report["summary"]["fail"] == 0
    ping = by_id["pod.ping"]
    assert ping["status"] == "pass"
    data = ping["data"]
    n = len(lab.nodes)
    assert data["nodes"] == sorted(lab.nodes)  # one doctor pod per node
    assert data["pairs"] == n * (n - 1)
    assert sum(row.count("pass") for row in data["status"]) == n * (n - 1)
    assert failing_pairs(ping) == set()


@pytest.mark.parametrize(
    "fault",
    [pytest.param(f, id=f.name, marks=[pytest.mark.xfail(strict=True, reason=XFAIL[f.name])] if f.name in XFAIL else []) for f in FAULTS],
)
def test_each_fault_alone(clean_lab: Lab, fault: Fault) -> None:
    lab = clean_lab
    fault.inject(lab)
    if fault.resync:
        lab.resync()
    code, report = doctor(lab)
    by_id = checks(report)
    scope = {_k3s(s) for s in fault.scope}

    failed = {i for i, c in by_id.items() if c["status"] == "fail"}
    must_fail = {i for i, (status, _) in fault.expect.items() if status == "fail"}
    assert failed - must_fail - set(fault.allow) == set(), "checks failed that do not follow from the fault"
    assert must_fail <= failed
    assert code == fault.exit

    for check_id, (status, subjects) in fault.expect.items():
        check = by_id[check_id]
        assert check["status"] == status, check_id
        named = {f["node"] for f in check["findings"] if f["status"] == status}
        assert subjects <= named, check_id

    for check_id, subjects in fault.passing.items():
        statuses = {f["node"]: f["status"] for f in by_id[check_id]["findings"]}
        assert {n: statuses.get(n) for n in subjects} == dict.fromkeys(subjects, "pass"), check_id

    # Every failing (or expected-warning) finding is about the fault's nodes.
    for check_id, check in by_id.items():
        judged = {"fail"} | ({fault.expect[check_id][0]} if check_id in fault.expect else set())
        stray = [f for f in check["findings"] if f["status"] in judged and f["kind"] != "pair" and not in_scope(f, scope)]
        assert stray == [], check_id

    ping = by_id["pod.ping"]
    bad = failing_pairs(ping)
    nodes = ping["data"]["nodes"]
    if fault.cut is None:
        assert bad <= pairs_with(*fault.scope)(nodes)  # transient, e.g. until WireGuard roams
    else:
        assert bad == fault.cut(nodes)
        # A cut this clean has a named culprit, not a list of leftover pairs.
        culprits = [f["detail"] for f in ping["findings"] if f["kind"] == "cluster" and f["status"] == "fail"]
        assert culprits and not any("other pair(s) fail" in c for c in culprits), culprits
