"""Each fault the lab can inject shows at the network (or API) level, alone,
and clearing it restores the full mesh. Doctor's own fault tests build on
these (see tests/lab/README.md)."""

from __future__ import annotations

import json
import socket
import ssl
import time

import pytest
from lab import Lab, netns, wg

pytest_plugins = ["lab.fixtures"]  # lab_cluster, clean_lab

pytestmark = pytest.mark.lab


def failures(lab: Lab) -> set[tuple[str, str]]:
    return {(r.src, r.dst) for r in lab.ping_matrix() if not r.ok}


def pairs_touching(lab: Lab, nodes: set[str]) -> set[tuple[str, str]]:
    """Every ordered pod pair with at least one end on `nodes`."""
    return {(a.key, b.key) for a in lab.pods.values() for b in lab.pods.values() if a is not b and (a.node in nodes or b.node in nodes)}


def pairs_between(lab: Lab, x: set[str], y: set[str]) -> set[tuple[str, str]]:
    return {(a.key, b.key) for a in lab.pods.values() for b in lab.pods.values() if (a.node in x and b.node in y) or (a.node in y and b.node in x)}


def assert_healed(lab: Lab) -> None:
    assert lab.clear_faults()
    assert lab.faults == []
    assert failures(lab) == set()


def test_ip_forward_off_cuts_the_node_and_those_routed_through_it(clean_lab: Lab) -> None:
    lab = clean_lab
    lab.fault_ip_forward("bd1")
    assert lab.run_on_node("bd1", ["cat", "/proc/sys/net/ipv4/ip_forward"]).stdout.strip() == b"0"
    # bd1 routes for its own pods and, as baidu's leader, for bd2's.
    assert failures(lab) == pairs_touching(lab, {"bd1.k3s", "bd2.k3s"})
    assert_healed(lab)


def test_dropped_wireguard_port_cuts_the_location(clean_lab: Lab) -> None:
    lab = clean_lab
    lab.fault_drop_wireguard("hw1")
    rules = netns.run(netns.in_ns(lab.node("hw1").ns, ["nft", "list", "ruleset"])).stdout.decode()
    assert f"udp dport {wg.PORT} drop" in rules
    assert failures(lab) == pairs_touching(lab, {"hw1.k3s"})
    assert_healed(lab)


def test_removed_peer_cuts_exactly_those_two_locations(clean_lab: Lab) -> None:
    lab = clean_lab
    lab.fault_remove_peer("ty1", "ali1")
    live = lab.wg("ty1", "showconf", wg.IFACE)
    expected = lab.kgctl("showconf", "node", "ty1.k3s").stdout.decode()
    assert lab.node("ali1").public_key not in live
    assert wg.canonical(live) != wg.canonical(expected)  # drift from kgctl-py's config
    assert failures(lab) == pairs_between(lab, {"ty1.k3s"}, {"ali1.k3s"})
    assert_healed(lab)
    assert wg.canonical(lab.wg("ty1", "showconf", wg.IFACE)) == wg.canonical(expected)


def test_stale_last_seen_drops_the_node_from_the_mesh(clean_lab: Lab) -> None:
    lab = clean_lab
    lab.fault_stale_last_seen("hw1", age=3600)
    seen = int(lab.annotation("hw1.k3s", "kilo.squat.ai/last-seen") or 0)
    assert time.time() - seen >= 3600
    # kgctl-py (like Kilo) ignores a node not seen for 60s or more...
    assert lab.kgctl("showconf", "node", "hw1.k3s", check=False).returncode != 0
    assert lab.node("hw1").public_key not in lab.kgctl("showconf", "node", "ty1.k3s").stdout.decode()
    # ...so once the other agents resync, hw1's pods are out of the mesh.
    lab.resync()
    assert lab.skipped == ["hw1.k3s"]
    assert failures(lab) == pairs_touching(lab, {"hw1.k3s"})
    assert_healed(lab)


def test_wrong_force_endpoint_reaches_the_other_leaders(clean_lab: Lab) -> None:
    lab = clean_lab
    wrong = "198.51.100.99:51820"  # on the lab internet, but nobody has it
    lab.fault_force_endpoint("hw1", wrong)
    hw1_key = lab.node("hw1").public_key
    conf = lab.kgctl("showconf", "node", "ty1.k3s").stdout.decode()
    hw1_entry = next(s for s in wg.parse_conf(conf) if s.items.get("PublicKey") == [hw1_key])
    # kg prefers the endpoint it discovered for a NAT'd (keepalive) node over
    # the annotation, so only leaders that never heard from hw1 take it.
    discovered = json.loads(lab.annotation("ty1.k3s", "kilo.squat.ai/discovered-endpoints") or "{}")
    real = f"{lab.node('hw1').spec.public_ip}:{wg.PORT}"
    assert hw1_entry.items["Endpoint"] == [real if hw1_key in discovered else wrong]
    lab.resync()
    # Right after the resync every other leader aims at the wrong address. (A
    # packet from hw1 would make them roam back: WireGuard heals this one for
    # nodes that can still send, which is why Kilo checks it, and doctor too.)
    for node in lab.nodes.values():
        if node.leader and node.name != "hw1.k3s":
            endpoints = dict(line.split("\t") for line in lab.wg(node.name, "show", wg.IFACE, "endpoints").splitlines())
            assert endpoints[hw1_key] in (wrong, f"{lab.node('hw1').spec.public_ip}:{wg.PORT}")
    assert_healed(lab)
    assert lab.annotation("hw1.k3s", "kilo.squat.ai/force-endpoint") == f"{lab.node('hw1').spec.public_ip}:51820"


def test_node_args_without_metrics_bind_address(clean_lab: Lab) -> None:
    lab = clean_lab
    lab.fault_node_args_without_metrics("tx1")
    args = json.loads(lab.annotation("tx1.k3s", "k3s.io/node-args") or "[]")
    assert args[0] == "agent" and "--node-external-ip" in args
    assert not any("metrics-bind-address" in a for a in args)
    others = json.loads(lab.annotation("ali1.k3s", "k3s.io/node-args") or "[]")
    assert "metrics-bind-address=0.0.0.0" in others
    assert_healed(lab)
    assert "metrics-bind-address=0.0.0.0" in json.loads(lab.annotation("tx1.k3s", "k3s.io/node-args") or "[]")


def _tls_handshake(lab: Lab, host: str, port: int) -> ssl.SSLSocket:
    """A verified TLS handshake from the operator's laptop to host:port."""
    ctx = ssl.create_default_context(cafile=str(lab.api.ca_file))
    sock = netns.in_netns_thread(lab.operator_ns, lambda: socket.socket(socket.AF_INET, socket.SOCK_STREAM))
    sock.settimeout(10)
    sock.connect((host, port))
    return ctx.wrap_socket(sock, server_hostname=host)


def test_certificate_without_public_ip(clean_lab: Lab) -> None:
    lab = clean_lab
    public = str(lab.spec.server.public_ip)
    _tls_handshake(lab, public, 6443).close()  # healthy: the SAN is there
    lab.fault_cert_without_public_ip()
    with pytest.raises(ssl.SSLCertVerificationError, match="IP address mismatch"):
        _tls_handshake(lab, public, 6443)
    # Through the tunnel the API still works, and kubectl-style clients that
    # use the public IP fail.
    assert lab.kgctl("graph", operator=True).returncode == 0
    assert lab.kgctl("graph", operator=True, kubeconfig=lab.operator_kubeconfig_public, check=False).returncode != 0
    assert_healed(lab)
    _tls_handshake(lab, public, 6443).close()


def test_faults_are_independent(clean_lab: Lab) -> None:
    """Two faults at once fail the union of their pairs; clearing undoes both."""
    lab = clean_lab
    lab.fault_drop_wireguard("tx1")
    lab.fault_remove_peer("ty1", "ali1")
    assert len(lab.faults) == 2
    assert failures(lab) == pairs_touching(lab, {"tx1.k3s"}) | pairs_between(lab, {"ty1.k3s"}, {"ali1.k3s"})
    assert_healed(lab)


def test_nat_churn_leaves_no_churned_endpoint_behind(clean_lab: Lab) -> None:
    """An agent period during the churn records the churned port in discovered-endpoints,
    which kgctl-py (as Kilo) prefers for a NAT'd peer; clearing the fault must not bring it
    back with the resync, or the next test sees the endpoint move."""
    lab = clean_lab
    laptop = lab.peers["laptop"].public_key
    ty1 = lab.node("ty1").name
    lab.fault_nat_churn("laptop", "ty1")

    def ty1_sees() -> str:
        out = lab.wg("ty1", "show", wg.IFACE, "endpoints")
        return next((line.split()[1] for line in out.splitlines() if line.startswith(laptop)), "")

    def discovered_port() -> int:
        return int(json.loads(lab.annotation(ty1, "kilo.squat.ai/discovered-endpoints") or "{}")[laptop]["Port"])

    deadline = time.monotonic() + 20
    while ty1_sees().endswith(f":{wg.PORT}") and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not ty1_sees().endswith(f":{wg.PORT}"), "the churn never moved the laptop's endpoint"
    lab.agent_tick()
    assert discovered_port() != wg.PORT
    assert_healed(lab)
    assert ty1_sees().endswith(f":{wg.PORT}")
    assert discovered_port() == wg.PORT
    assert wg.canonical(lab.wg("ty1", "showconf", wg.IFACE)) == wg.canonical(lab.kgctl("showconf", "node", ty1).stdout.decode())
