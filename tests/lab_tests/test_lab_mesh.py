"""The healthy lab: kgctl-py's configs make a working mesh.

Every pod pings every other pod through real wireguard-go tunnels configured
from `kgctl-py showconf`; the live interfaces hold exactly kgctl-py's
configs; the graph renders; the API server's exec and DaemonSet pods reach
into the lab's namespaces.
"""

from __future__ import annotations

import ipaddress
import json
import subprocess
import time
from typing import Any

import pytest
from lab import Lab, netns, wg

pytest_plugins = ["lab.fixtures"]  # lab_cluster, clean_lab

pytestmark = pytest.mark.lab


def test_every_pod_pings_every_other_pod(clean_lab: Lab) -> None:
    results = clean_lab.ping_matrix()
    n = len(clean_lab.pods)
    assert n == len(clean_lab.nodes) * clean_lab.spec.pods_per_node
    assert len(results) == n * (n - 1)
    assert [r for r in results if not r.ok] == []


def test_cross_location_traffic_goes_through_wireguard(clean_lab: Lab) -> None:
    """The only path between locations is kilo0: the internet has no route to
    any private or pod address, and the tunnel's counters move with a ping."""
    hub_routes = netns.ip(clean_lab.hub, "route", "show").stdout.decode()
    assert "10.42." not in hub_routes and "192.168." not in hub_routes and "172." not in hub_routes
    probe = netns.run(netns.in_ns(clean_lab.hub, ["ip", "route", "get", "10.42.0.2"]), check=False)
    assert probe.returncode != 0  # unreachable from the internet

    def rx_from(node: str, peer: str) -> int:
        key = clean_lab.node(peer).public_key
        for line in clean_lab.wg(node, "show", wg.IFACE, "transfer").splitlines():
            k, rx, _tx = line.split("\t")
            if k == key:
                return int(rx)
        raise AssertionError(f"{peer} is not a peer of {node}")

    before = rx_from("ty1", "bd1")
    bd2_pod = clean_lab.node("bd2").pods[0].key  # no public IP: only via its leader bd1
    assert clean_lab.ping(bd2_pod, clean_lab.node("ty1").pods[0].ip)
    assert rx_from("ty1", "bd1") > before


def test_live_interfaces_hold_kgctl_showconf(clean_lab: Lab) -> None:
    """`kgctl-py showconf node X` equals `wg showconf kilo0` on X for every leader.

    Normalisation (wg.canonical): the live config has a PrivateKey, which
    kgctl never prints, so it is dropped; ListenPort is compared (both 51820).
    wg(8) prints `PublicKey` first and the rest in its own key order, while
    kgctl sorts keys alphabetically, so keys are sorted within a section.
    wg(8) lists peers and AllowedIPs in the device's order -- wireguard-go
    keeps insertion order, but a resync re-adds a removed peer at the end --
    so peers are sorted by public key and AllowedIPs within a peer. Every
    peer, endpoint, keepalive and allowed IP must still match exactly.
    """
    leaders = [n for n in clean_lab.nodes.values() if n.leader]
    assert len(leaders) == len(clean_lab.spec.locations)
    for node in leaders:
        expected = clean_lab.kgctl("showconf", "node", node.name).stdout.decode()
        live = clean_lab.wg(node.name, "showconf", wg.IFACE)
        assert "PrivateKey = " + node.private_key in live
        assert wg.canonical(live) == wg.canonical(expected), node.name
        # One [Peer] per other location plus one per Kilo Peer.
        assert expected.count("[Peer]") == len(leaders) - 1 + len(clean_lab.peers)


def test_non_leader_has_a_bare_interface(clean_lab: Lab) -> None:
    proc = clean_lab.kgctl("showconf", "node", "bd2.k3s")
    assert proc.stdout == b""
    assert b'Node "bd2.k3s" is not a leader node' in proc.stderr
    live = clean_lab.wg("bd2", "showconf", wg.IFACE)
    assert "[Peer]" not in live and f"ListenPort = {clean_lab.node('bd2').member_port}" in live
    # Kilo publishes an empty WireGuard IP for non-leaders, the allocated one for leaders.
    assert clean_lab.annotation("bd2.k3s", "kilo.squat.ai/wireguard-ip") == ""
    assert clean_lab.annotation("bd1.k3s", "kilo.squat.ai/wireguard-ip") == clean_lab.node("bd1").wg_ip


def test_annotations_are_written_as_kg_writes_them(clean_lab: Lab) -> None:
    """endpoint = the forced public one, discovered-endpoints for every peer
    that shook hands, an empty cni-compatibility-ip (as observed from kg)."""
    lab = clean_lab
    lab.agent_tick()
    ty1 = lab.node("ty1")
    assert lab.annotation("ty1.k3s", "kilo.squat.ai/endpoint") == f"{ty1.spec.public_ip}:51820"
    assert lab.annotation("bd2.k3s", "kilo.squat.ai/endpoint") == f"{lab.node('bd2').spec.private_addr}:51820"
    assert lab.annotation("ty1.k3s", "kilo.squat.ai/cni-compatibility-ip") == ""
    found = json.loads(lab.annotation("ty1.k3s", "kilo.squat.ai/discovered-endpoints") or "")
    others = {n.public_key: n for n in lab.nodes.values() if n.leader and n is not ty1}
    laptop = lab.peers["laptop"]
    assert set(found) == {*others, laptop.public_key}  # the phone never shook hands
    for key, node in others.items():
        assert found[key] == {"IP": node.spec.public_ip, "Port": 51820, "Zone": ""}
    assert found[laptop.public_key] == {"IP": laptop.spec.public_ip, "Port": 51820, "Zone": ""}
    # A member's kilo0 has no peers, so it discovers nothing.
    assert lab.annotation("bd2.k3s", "kilo.squat.ai/discovered-endpoints") == "{}"


def test_wireguard_ips_follow_location_order(clean_lab: Lab) -> None:
    """Read back from kgctl-py's configs: leaders get .1, .2, ... in sorted location order."""
    ips = {n.spec.location: n.wg_ip for n in clean_lab.nodes.values() if n.leader}
    assert ips == {loc: f"10.4.0.{i}/16" for i, loc in enumerate(sorted(ips), start=1)}


def test_graph_renders_to_svg(clean_lab: Lab) -> None:
    dot = clean_lab.kgctl("graph").stdout
    svg = subprocess.run(["circo", "-Tsvg"], input=dot, capture_output=True, timeout=60, check=True)
    assert svg.stderr == b""
    text = svg.stdout.decode()
    assert text.lstrip().startswith("<?xml") and "</svg>" in text
    for name in [*clean_lab.nodes, *clean_lab.peers]:
        assert f">{name}<" in text or name in text


def test_laptop_peer_reaches_pods_and_api(clean_lab: Lab) -> None:
    """The running Kilo Peer, set up from `showconf peer laptop`, reaches every pod;
    kgctl-py runs from the laptop through the server's public IP and the tunnel."""
    op = clean_lab.operator_ns
    for pod in clean_lab.pods.values():
        ok = netns.run(netns.in_ns(op, ["busybox", "ping", "-c", "1", "-W", "2", pod.ip]), check=False, timeout=10)
        assert ok.returncode == 0, pod.key
    host_graph = clean_lab.kgctl("graph").stdout
    assert clean_lab.kgctl("graph", operator=True).stdout == host_graph
    public = clean_lab.kgctl("graph", operator=True, kubeconfig=clean_lab.operator_kubeconfig_public)
    assert public.stdout == host_graph


# --------------------------------------------------------------------- through the API


def _kube(lab: Lab) -> Any:
    from kubernetes import client, config

    api_client = config.new_client_from_config(config_file=lab.kubeconfig)
    return client.CoreV1Api(api_client), client.AppsV1Api(api_client)


def _exec(core: Any, pod: Any, command: list[str]) -> str:
    from kubernetes.stream import stream

    md = pod.metadata
    out: str = stream(
        core.connect_get_namespaced_pod_exec, md.name, md.namespace, command=command, stderr=True, stdin=False, stdout=True, tty=False, _request_timeout=30
    )
    return out


def test_exec_in_kilo_pods_runs_in_the_node(clean_lab: Lab) -> None:
    core, _ = _kube(clean_lab)
    pods = core.list_namespaced_pod("kube-system", label_selector="app.kubernetes.io/name=kilo").items
    assert sorted(p.spec.node_name for p in pods) == sorted(clean_lab.nodes)
    for pod in pods:
        node = clean_lab.nodes[pod.spec.node_name]
        assert pod.spec.host_network and pod.status.pod_ip == node.spec.private_addr
        assert _exec(core, pod, ["cat", "/proc/sys/net/ipv4/ip_forward"]).strip() == "1"
        shown = _exec(core, pod, ["wg", "show", wg.IFACE, "public-key"]).strip()
        assert shown == node.public_key
    ty1 = next(p for p in pods if p.spec.node_name == "ty1.k3s")
    out = _exec(core, ty1, ["ping", "-c", "1", "-W", "2", clean_lab.node("bd2").pods[0].ip])
    assert "1 packets received" in out  # busybox's wording


def test_daemonset_pods_become_lab_pods(clean_lab: Lab) -> None:
    """What doctor does: a namespace and a busybox DaemonSet; its pods get pod
    namespaces with IPs from their node's pod CIDR and ping each other."""
    core, apps = _kube(clean_lab)
    ns = "lab-test-ds"
    core.create_namespace({"metadata": {"name": ns}})
    try:
        labels = {"app": "lab-ping"}
        apps.create_namespaced_daemon_set(
            ns,
            {
                "metadata": {"name": "ping"},
                "spec": {
                    "selector": {"matchLabels": labels},
                    "template": {
                        "metadata": {"labels": labels},
                        "spec": {"containers": [{"name": "busybox", "image": "busybox:1.36", "command": ["sleep", "3600"]}]},
                    },
                },
            },
        )
        deadline = time.monotonic() + 30
        while True:
            pods = core.list_namespaced_pod(ns).items
            running = [p for p in pods if p.status.phase == "Running" and p.status.pod_ip]
            if len(running) == len(clean_lab.nodes):
                break
            assert time.monotonic() < deadline, [(p.metadata.name, p.status.phase) for p in pods]
            time.sleep(0.2)
        for pod in running:
            cidr = ipaddress.ip_network(clean_lab.nodes[pod.spec.node_name].spec.pod_cidr)
            assert ipaddress.ip_address(pod.status.pod_ip) in cidr
            assert f"{ns}/{pod.metadata.name}" in clean_lab.pods
        src = running[0]
        for dst in running[1:]:
            out = _exec(core, src, ["ping", "-c", "1", "-W", "2", dst.status.pod_ip])
            assert "1 packets received" in out, (src.spec.node_name, dst.spec.node_name, out)
    finally:
        core.delete_namespace(ns)
    deadline = time.monotonic() + 30
    while any(k.startswith(ns + "/") for k in clean_lab.pods):
        assert time.monotonic() < deadline, "pod namespaces not removed with the DaemonSet's namespace"
        time.sleep(0.2)
