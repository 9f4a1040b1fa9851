"""Doctor's pure judges and small parts: ping output, culprits, wg text, TLS names, host ping."""

from __future__ import annotations

import json
import subprocess

import doctor_fixtures as fx
from doctor_fixtures.tlsserver import TLSServer

from kgctl_py.doctor import hostping, tls, wg
from kgctl_py.doctor.model import Status
from kgctl_py.doctor.ping import PingResult, Place, culprits, daemonset_manifest, judge_ping
from kgctl_py.doctor.pool import run_bounded
from kgctl_py.mesh.cluster import Cluster, Options, node_topology


def test_judge_real_busybox_ping():
    ok = subprocess.run(["busybox", "ping", "-c", "2", "-W", "2", "127.0.0.1"], capture_output=True, text=True, timeout=30)
    r = judge_ping(ok.returncode, ok.stdout, ok.stderr)
    assert r.status == Status.PASS and r.rtt_ms is not None and r.detail == "2/2 replies"
    bad = subprocess.run(["unshare", "--net", "busybox", "ping", "-c", "1", "-W", "1", "127.0.0.1"], capture_output=True, text=True, timeout=30)
    r = judge_ping(bad.returncode, bad.stdout, bad.stderr)
    assert r.status == Status.FAIL and "unreachable" in r.detail.lower()


def test_judge_ping_loss_and_exec_errors():
    lossy = "3 packets transmitted, 1 packets received, 66% packet loss\nround-trip min/avg/max = 1.0/2.5/4.0 ms\n"
    assert judge_ping(0, lossy, "") == PingResult(Status.WARN, 2.5, "1/3 replies")
    assert judge_ping(1, "3 packets transmitted, 0 packets received, 100% packet loss\n", "").status == Status.FAIL
    # iputils' spelling too
    iputils = "3 packets transmitted, 3 received, 0% packet loss, time 2003ms\nrtt min/avg/max/mdev = 0.1/0.2/0.3/0.0 ms\n"
    assert judge_ping(0, iputils, "") == PingResult(Status.PASS, 0.2, "3/3 replies")
    assert judge_ping(None, "", "", "timed out after 20s").status == Status.UNKNOWN


def _matrix(nodes, bad):
    out = {}
    for a in nodes:
        for b in nodes:
            if a != b:
                out[(a, b)] = PingResult(Status.FAIL if bad(a, b) else Status.PASS, None if bad(a, b) else 1.0)
    return out


PLACES = {
    "a1": Place("aws", "a1", "203.0.113.1:51820"),
    "a2": Place("aws", "a1", "203.0.113.1:51820"),
    "g1": Place("gcp", "g1", "198.51.100.1:51820"),
    "b1": Place("baidu", "b1", "192.0.2.1:51820"),
    "b2": Place("baidu", "b1", "192.0.2.1:51820"),
}
NODES = sorted(PLACES)


def test_culprit_location():
    res = _matrix(NODES, lambda a, b: (PLACES[a].location == "baidu") != (PLACES[b].location == "baidu"))
    found = culprits(NODES, res, PLACES, 51820)
    assert found == ["every pair crossing location baidu fails (12 pairs): check leader b1's endpoint 192.0.2.1:51820 and that UDP 51820 reaches it"]


def test_culprit_leader_breaks_its_location():
    res = _matrix(NODES, lambda a, b: "b1" in (a, b))
    found = culprits(NODES, res, PLACES, 51820)
    assert len(found) == 1 and found[0].startswith("every pair with b1 fails (8 pairs), and b1 leads location baidu")


def test_culprit_broken_leader_is_not_blamed_on_its_members():
    # ip_forward=0 on b1: b2 reaches everything through b1, so all b2's pairs fail too.
    res = _matrix(NODES, lambda a, b: bool({"b1", "b2"} & {a, b}))
    found = culprits(NODES, res, PLACES, 51820)
    assert len(found) == 1 and found[0].startswith("every pair with b1 fails (8 pairs), and b1 leads location baidu")


def test_culprit_tunnel_between_two_locations():
    res = _matrix(NODES, lambda a, b: {PLACES[a].location, PLACES[b].location} == {"aws", "gcp"})
    found = culprits(NODES, res, PLACES, 51820)
    assert found == [
        "every pair between locations aws and gcp fails (4 pairs): the tunnel between leaders a1 and g1 is down; "
        "compare `wg show` on both (see wireguard.handshake and wireguard.drift)"
    ]


def test_culprit_node_and_everything():
    res = _matrix(NODES, lambda a, b: "a2" in (a, b))
    assert culprits(NODES, res, PLACES, 51820)[0].startswith("every pair with a2 fails")
    res = _matrix(NODES, lambda a, b: True)
    assert culprits(NODES, res, PLACES, 51820)[0].startswith("no pod reaches any other pod")
    assert culprits(NODES, _matrix(NODES, lambda a, b: False), PLACES, 51820) == []


def test_culprit_ignores_unknown_pairs():
    res = _matrix(NODES, lambda a, b: False)
    res[("a1", "g1")] = PingResult(Status.UNKNOWN, None, "exec failed")
    assert culprits(NODES, res, PLACES, 51820) == []


def test_daemonset_tolerates_every_taint_and_is_labelled():
    ds = daemonset_manifest("ns", "mirror/busybox:1.36", "abc")
    spec = ds["spec"]["template"]["spec"]
    assert spec["tolerations"] == [{"operator": "Exists"}]
    assert spec["containers"][0]["image"] == "mirror/busybox:1.36"
    assert ds["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "kgctl-py-doctor"


DUMP = (
    "cHJpdmF0ZS1rZXktbmV2ZXItc2hvd24tYW55d2hlcmUhIQ==\tpub\t51820\toff\n"
    "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=\t(none)\t203.0.113.10:51820\t10.42.0.0/24,172.31.0.10/32\t1760000000\t10\t20\t25\n"
    "AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=\t(none)\t(none)\t(none)\t0\t0\t0\toff\n"
)


def test_parse_dump_drops_the_private_key():
    iface = wg.parse_dump(DUMP)
    assert iface.listen_port == 51820
    assert iface.peers["AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="].latest_handshake == 1760000000
    assert iface.peers["AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI="].allowed_ips == []
    assert "cHJpdmF0ZS" not in repr(iface)


def test_drift_against_the_core():
    objects = fx.healthy()["items"]
    cluster = Cluster.from_objects([o for o in objects if o["kind"] == "Node"], [o for o in objects if o["kind"] == "Peer"])
    expected = node_topology(cluster, "srv1", Options(), fx.CAPTURED_AT)[0].conf()
    from doctor_fixtures.live import wg_outputs

    text = wg_outputs(objects)[("srv1", "showconf")]
    live = wg.parse_showconf(text)
    assert "SECRET" not in repr(live)
    assert wg.drift(live, expected, {}, 51820) == ([], [])
    changed = text.replace("10.42.3.0/24", "10.42.9.0/24")
    fails, _ = wg.drift(wg.parse_showconf(changed), expected, {}, 51820)
    assert len(fails) == 1 and "+10.42.9.0/24 -10.42.3.0/24" in fails[0]
    fails, _ = wg.drift(live, expected, {}, 51821)
    assert fails == ["listens on 51820, computed 51821"]


def test_tls_san_mismatch_names_the_certificate_names():
    with TLSServer(["k3s.example", "10.0.0.1"]) as server:
        node = {"metadata": {"name": "srv1", "annotations": {"k3s.io/node-args": json.dumps(["server"]), "k3s.io/external-ip": "127.0.0.1"}}}
        found = tls.check(f"https://127.0.0.1:{server.port}", False, server.ca_pem, [node], server.port, 5)
    assert [f.status for f in found] == [Status.FAIL, Status.FAIL]
    assert "does not cover 127.0.0.1 (it has k3s.example, 10.0.0.1)" in found[1].detail
    assert found[1].subject == "srv1" and "--tls-san 127.0.0.1" in found[1].hint


def test_tls_san_untrusted_certificate():
    with TLSServer(["127.0.0.1"]) as server:
        found = tls.check(f"https://127.0.0.1:{server.port}", False, None, [], 6443, 5)
    assert found[0].status == Status.FAIL and "not trusted" in found[0].detail


def test_tls_san_covers_wildcards():
    assert tls.covers([("DNS", "*.example.com")], "k3s.example.com")
    assert not tls.covers([("DNS", "*.example.com")], "a.b.example.com")
    assert tls.covers([("IP Address", "::1")], "0:0::1")


def test_host_ping_real_icmp_to_loopback(tmp_path):
    # Endpoints and WireGuard IPs on loopback: the only addresses a test may ping.
    doc = fx.healthy()
    patch = {"srv1": "127.0.0.11", "aws2": "127.0.0.12", "gcp1": "127.0.0.13", "bd1": "127.0.0.14"}
    for item in doc["items"]:
        if item["kind"] == "Node":
            notes = item["metadata"]["annotations"]
            notes["kilo.squat.ai/force-endpoint"] = f"{patch[item['metadata']['name']]}:51820"
            notes["kilo.squat.ai/wireguard-ip"] = "127.0.0.1/8"
    snapshot = fx.write(doc, tmp_path / "cluster.yaml")
    proc = subprocess.run(
        ["kgctl-py", "doctor", "--snapshot", snapshot, "--from-host", "--check", "host.ping", "-o", "json"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    findings = json.loads(proc.stdout)["categories"][0]["checks"][0]["findings"]
    details = sorted(f["detail"].split(":")[0] for f in findings)
    assert details == [
        "WireGuard IP 127.0.0.1",
        "WireGuard IP 127.0.0.2",
        "WireGuard IP 127.0.0.3",
        "endpoint 127.0.0.11",
        "endpoint 127.0.0.12",
        "endpoint 127.0.0.13",
        "endpoint 127.0.0.14",
    ]
    assert all(f["status"] == "pass" for f in findings)


def test_host_ping_permission_explanation_names_the_sysctl():
    text = hostping.explain_permission()
    with open(hostping.GROUP_RANGE) as f:
        value = " ".join(f.read().split())
    assert f"net.ipv4.ping_group_range = {value}" in text and "sysctl -w net.ipv4.ping_group_range" in text


def test_run_bounded_respects_the_bound():
    import threading
    import time

    lock = threading.Lock()
    state = {"now": 0, "peak": 0}

    def work(i):
        with lock:
            state["now"] += 1
            state["peak"] = max(state["peak"], state["now"])
        time.sleep(0.01)
        with lock:
            state["now"] -= 1
        return i * 2

    out = run_bounded(list(range(50)), work, 4)
    assert out == {i: i * 2 for i in range(50)}
    assert state["peak"] == 4
