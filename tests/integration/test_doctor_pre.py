"""doctor --pre on a K3s cluster before Kilo: the K3s checks, pod CIDRs, public
addresses, and host readings from doctor's own hostNetwork pods, cleaned up after."""

from __future__ import annotations

import copy
import json
import subprocess

import doctor_fixtures as fx
from doctor_fixtures.live import UDP_HEADER, DoctorServer, Nodes

from kgctl_py.doctor import pre

NO_TLS = ["--skip", "api.tls-san"]
LABEL = "app.kubernetes.io/managed-by=kgctl-py-doctor"


def _without_kilo() -> list[dict]:
    """The healthy cluster as K3s leaves it: no Kilo annotations, no Kilo pods, no Peers."""
    out = []
    for item in fx.healthy()["items"]:
        if item.get("kind") != "Node":
            continue
        node = copy.deepcopy(item)
        notes = node["metadata"].get("annotations") or {}
        node["metadata"]["annotations"] = {k: v for k, v in notes.items() if not k.startswith("kilo.squat.ai/")}
        # Before Kilo, the planned location is the topology label.
        location = notes.get("kilo.squat.ai/location")
        if location:
            node["metadata"].setdefault("labels", {})["topology.kubernetes.io/region"] = location
        out.append(node)
    return out


def _doctor(ds: DoctorServer, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["kgctl-py", "doctor", "--pre", "--kubeconfig", ds.kubeconfig, "--timeout", "30", "-o", "json", *NO_TLS, *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _checks(proc: subprocess.CompletedProcess[str]) -> dict[str, dict]:
    doc = json.loads(proc.stdout)
    return {c["id"]: c for cat in doc["categories"] for c in cat["checks"]}


def _leftovers(ds: DoctorServer) -> list[str]:
    return [f"{kind}/{o['metadata']['name']}" for kind in ("Namespace", "DaemonSet", "Pod") for o in ds.srv.store.list(kind, label_selector=LABEL)]


def test_a_healthy_cluster_before_kilo_passes_and_kilo_checks_are_skipped():
    with DoctorServer(objects=_without_kilo(), nodes=Nodes(), crd=False) as ds:
        proc = _doctor(ds)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        checks = _checks(proc)
        for cid in ("k3s.tls-san", "k3s.flannel-backend", "node.pod-cidr", "node.public-address", "node.ip-forward", "node.wireguard-port", "node.ready"):
            assert checks[cid]["status"] == "pass", (cid, checks[cid]["findings"])
        for cid in ("kilo.crd", "kilo.endpoint", "pod.ping", "wireguard.handshake"):
            assert checks[cid]["status"] == "skip" and "needs Kilo" in checks[cid]["findings"][0]["detail"], cid
        # The readings came from hostNetwork pods doctor created, one per node, and deleted.
        host_reads = [node for node, command in ds.commands if command == ["cat", "/proc/net/udp", "/proc/net/udp6"]]
        assert sorted(host_reads) == sorted(n["metadata"]["name"] for n in _without_kilo())
        assert _leftovers(ds) == []


def test_pre_finds_what_the_runbook_warns_about():
    nodes = _without_kilo()
    by_name = {n["metadata"]["name"]: n for n in nodes}
    # flannel still on; no public address in gcp; ip_forward off on bd1; 51820 taken on aws2.
    srv = by_name["srv1"]["metadata"]["annotations"]
    srv["k3s.io/node-args"] = srv["k3s.io/node-args"].replace('"none"', '"vxlan"')
    gcp = by_name["gcp1"]
    gcp["metadata"]["annotations"].pop("k3s.io/external-ip", None)
    gcp["metadata"]["annotations"]["k3s.io/node-args"] = '["agent","--kube-proxy-arg","metrics-bind-address=0.0.0.0"]'
    gcp["status"]["addresses"] = [a for a in gcp["status"]["addresses"] if a["type"] != "ExternalIP"]
    taken = UDP_HEADER + "   7: 00000000:CA6C 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 12345 2 0000000000000000 0\n"
    with DoctorServer(objects=nodes, nodes=Nodes(ip_forward={"bd1": "0\n"}, udp={"aws2": taken}), crd=False) as ds:
        proc = _doctor(ds)
        assert proc.returncode == 1, proc.stdout + proc.stderr
        checks = _checks(proc)

        def failing(cid: str) -> list[str]:
            return [f["node"] for f in checks[cid]["findings"] if f["status"] == "fail"]

        assert failing("k3s.flannel-backend") == ["srv1"]
        assert "will be the CNI" in checks["k3s.flannel-backend"]["findings"][0]["detail"]
        assert failing("node.public-address") == ["gcp"]
        assert failing("node.ip-forward") == ["bd1"]
        assert failing("node.wireguard-port") == ["aws2"]
        assert _leftovers(ds) == []


def test_bound_udp_ports_reads_both_tables():
    text = UDP_HEADER + "   1: 00000000:CA6C 00000000:0000 07 0 0 0 0 0 1 2 0 0\n  sl  local_address ...\n   2: 00000000000000000000000000000000:0035 0 07\n"
    assert pre.bound_udp_ports(text) == {51820, 53}
    assert pre.bound_udp_ports("garbage\n\n  x y:zz\n") == set()
