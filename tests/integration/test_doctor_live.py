"""Live checks against the project's test API server (tests/kubeapi), with real
exec over websockets through the official kubernetes client."""

from __future__ import annotations

import json
import subprocess

import doctor_fixtures as fx
import pytest
from doctor_fixtures.live import DoctorServer, Nodes, wg_outputs

LABEL = "app.kubernetes.io/managed-by=kgctl-py-doctor"
# api.tls-san would probe the fixture's public IPs: only loopback is allowed in tests.
NO_TLS = ["--skip", "api.tls-san"]


def doctor(ds: DoctorServer, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["kgctl-py", "doctor", "--kubeconfig", ds.kubeconfig, "--timeout", "30", *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def leftovers(ds: DoctorServer) -> list[str]:
    found = []
    for kind in ("Namespace", "DaemonSet", "Pod"):
        found += [f"{kind}/{o['metadata']['name']}" for o in ds.srv.store.list(kind, label_selector=LABEL)]
    return found


def report(proc: subprocess.CompletedProcess[str]) -> dict:
    return json.loads(proc.stdout)


def findings(doc: dict, check: str) -> list[dict]:
    for cat in doc["categories"]:
        for c in cat["checks"]:
            if c["id"] == check:
                return c["findings"]
    raise KeyError(check)


def status_of(doc: dict, check: str) -> str:
    for cat in doc["categories"]:
        for c in cat["checks"]:
            if c["id"] == check:
                return c["status"]
    raise KeyError(check)


def healthy_nodes() -> Nodes:
    return Nodes(wg=wg_outputs(fx.healthy()["items"]))


def test_healthy_cluster_passes_live_checks_and_cleans_up():
    with DoctorServer(nodes=healthy_nodes()) as ds:
        proc = doctor(ds, "-o", "json", *NO_TLS)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        doc = report(proc)
        for check in ("node.ip-forward", "wireguard.handshake", "wireguard.drift", "pod.ping", "kilo.daemonset", "node.ready"):
            assert status_of(doc, check) == "pass", (check, findings(doc, check))
        ping = next(c for cat in doc["categories"] for c in cat["checks"] if c["id"] == "pod.ping")
        assert ping["data"]["nodes"] == ["aws2", "bd1", "gcp1", "srv1"]
        assert ping["data"]["pairs"] == 12
        # Real busybox pings of loopback: every RTT measured.
        rtts = [v for row in ping["data"]["rttMs"] for v in row if v is not None]
        assert len(rtts) == 12 and all(v >= 0 for v in rtts)
        assert ping["data"]["peakConcurrentExecs"] >= 2
        # Execs went where they should: ip_forward and wg in Kilo's pods, pings in ours.
        cmds = ds.commands
        # One exec per source pod, each pinging the three others at once.
        scripts = [c for _, c in cmds if c[:2] == ["sh", "-c"] and c[3:4] == ["kgctl-ping"]]
        assert len(scripts) == 4 and all(len(c[4:]) == 3 for c in scripts)
        assert ping["data"]["plan"] == "full" and ping["data"]["execs"] == 4 and ping["data"]["probes"] == 12
        assert sum(1 for _, c in cmds if c == ["cat", "/proc/sys/net/ipv4/ip_forward"]) == 4
        assert leftovers(ds) == []
        assert not [n for n in ds.srv.store.list("Namespace") if n["metadata"]["name"].startswith("kgctl-py-doctor")]


def test_location_culprit_is_named_and_exit_is_1():
    nodes = healthy_nodes()
    nodes.reachable = lambda src, dst: "bd1" not in (src, dst)
    with DoctorServer(nodes=nodes) as ds:
        proc = doctor(ds, "-o", "json", "--check", "pod.ping")
        assert proc.returncode == 1
        found = findings(report(proc), "pod.ping")
        failed = sorted(f["node"] for f in found if f["status"] == "fail" and f["kind"] == "pair")
        assert failed == ["aws2 → bd1", "bd1 → aws2", "bd1 → gcp1", "bd1 → srv1", "gcp1 → bd1", "srv1 → bd1"]
        culprit = [f for f in found if f["kind"] == "cluster"]
        assert len(culprit) == 1
        assert "location baidu" in culprit[0]["detail"] and "leader bd1" in culprit[0]["detail"] and "UDP 51820" in culprit[0]["detail"]
        assert leftovers(ds) == []


def test_one_node_culprit_inside_a_location():
    nodes = healthy_nodes()
    nodes.reachable = lambda src, dst: "aws2" not in (src, dst)
    with DoctorServer(nodes=nodes) as ds:
        proc = doctor(ds, "-o", "json", "--check", "pod.ping")
        assert proc.returncode == 1
        culprit = [f["detail"] for f in findings(report(proc), "pod.ping") if f["kind"] == "cluster"]
        assert len(culprit) == 1 and culprit[0].startswith("every pair with aws2 fails"), culprit


def test_failed_execs_make_unknown_pairs_not_failures():
    nodes = healthy_nodes()
    nodes.fail_every = 2  # one exec per source pod: two of the four fail
    with DoctorServer(nodes=nodes) as ds:
        proc = doctor(ds, "-o", "json", "--check", "pod.ping")
        found = findings(report(proc), "pod.ping")
        unknown = [f for f in found if f["status"] == "unknown"]
        # A failed exec leaves all of its source's pairs unmeasured.
        assert len(unknown) == 6, found
        assert len({f["node"].split(" → ")[0] for f in unknown}) == 2
        assert all("exec" in f["detail"] for f in unknown)
        assert not [f for f in found if f["status"] == "fail"]
        assert proc.returncode == 0
        assert leftovers(ds) == []


def test_ip_forward_off_is_named():
    nodes = healthy_nodes()
    nodes.ip_forward = {"gcp1": "0\n"}
    with DoctorServer(nodes=nodes) as ds:
        proc = doctor(ds, "-o", "json", "--check", "node.ip-forward")
        assert proc.returncode == 1
        found = {f["node"]: f for f in findings(report(proc), "node.ip-forward")}
        assert found["gcp1"]["status"] == "fail" and "sysctl -w net.ipv4.ip_forward=1" in found["gcp1"]["hint"]
        assert {found[n]["status"] for n in ("srv1", "aws2", "bd1")} == {"pass"}


def test_stale_handshake_and_drift_are_named():
    objects = fx.healthy()["items"]
    wg = wg_outputs(objects, stale={("srv1", "gcp1"): 600, ("bd1", "laptop"): 0}, drop={("gcp1", "bd1")})
    with DoctorServer(nodes=Nodes(wg=wg)) as ds:
        proc = doctor(ds, "-o", "json", "--check", "wireguard.*")
        assert proc.returncode == 1
        doc = report(proc)
        shake = {f["node"]: f for f in findings(doc, "wireguard.handshake")}
        assert shake["srv1"]["status"] == "fail" and "gcp1: last handshake 10m0" in shake["srv1"]["detail"]
        # A Kilo Peer (a laptop) may be offline: a warning, not a failure.
        assert shake["bd1"]["status"] == "warn" and "peer laptop: no handshake ever" in shake["bd1"]["detail"]
        assert shake["gcp1"]["status"] == "fail" and "bd1: not configured" in shake["gcp1"]["detail"]
        drift = {f["node"]: f for f in findings(doc, "wireguard.drift")}
        assert drift["gcp1"]["status"] == "fail" and "peer bd1 is missing" in drift["gcp1"]["detail"]
        assert drift["srv1"]["status"] == "pass"
        # wg showconf prints the private key: it must never reach the output.
        assert "SECRET" not in proc.stdout + proc.stderr


def test_wrong_wg_interface_says_so_and_flag_fixes_it():
    nodes = healthy_nodes()
    nodes.wg_interface = "wg-lab"
    with DoctorServer(nodes=nodes) as ds:
        proc = doctor(ds, "-o", "json", "--check", "wireguard.handshake")
        assert proc.returncode == 1
        detail = findings(report(proc), "wireguard.handshake")[0]["detail"]
        assert "No such device" in detail and "--wg-interface" in detail
        ds.commands.clear()
        proc = doctor(ds, "-o", "json", "--check", "wireguard.handshake", "--wg-interface", "wg-lab")
        assert proc.returncode == 0, proc.stdout
        wg_calls = [c for _, c in ds.commands if c[0] == "wg"]
        assert wg_calls and all(c[2] == "wg-lab" for c in wg_calls)


def test_missing_exec_permission_is_a_failed_check_not_a_crash():
    with DoctorServer(nodes=healthy_nodes()) as ds:
        ds.srv.rbac = [
            ("list", "", "nodes"),
            ("get", "apiextensions.k8s.io", "customresourcedefinitions"),
            ("list", "kilo.squat.ai", "peers"),
            ("list", "", "pods"),
            ("*", "", "namespaces"),
            ("*", "apps", "daemonsets"),
        ]
        proc = doctor(ds, "-o", "json", *NO_TLS)
        assert proc.returncode == 1, proc.stderr
        assert "Traceback" not in proc.stderr
        doc = report(proc)
        for check in ("node.ip-forward", "wireguard.handshake", "wireguard.drift", "pod.ping"):
            found = findings(doc, check)
            assert found[0]["status"] == "fail" and "missing RBAC permission: create pods/exec" in found[0]["detail"], found
        assert status_of(doc, "kilo.endpoint") == "pass"
        # No exec was tried, and nothing was created.
        assert ds.commands == []
        assert leftovers(ds) == []


def test_missing_namespace_permission_fails_pod_ping_only():
    with DoctorServer(nodes=healthy_nodes()) as ds:
        ds.srv.rbac = [
            ("*", "", "nodes"),
            ("*", "apiextensions.k8s.io", "*"),
            ("*", "kilo.squat.ai", "*"),
            ("*", "", "pods"),
            ("*", "", "pods", "exec"),
            ("*", "apps", "*"),
        ]
        proc = doctor(ds, "-o", "json", *NO_TLS)
        doc = report(proc)
        assert proc.returncode == 1
        ping = findings(doc, "pod.ping")
        assert "create namespaces" in ping[0]["detail"] and "kubectl" in ping[0]["detail"]
        assert status_of(doc, "node.ip-forward") == "pass"


def test_keep_leaves_the_namespace_and_prints_how_to_delete_it():
    with DoctorServer(nodes=healthy_nodes()) as ds:
        proc = doctor(ds, "--check", "pod.ping", "--keep", "--namespace", "doctor-kept")
        assert proc.returncode == 0, proc.stderr
        assert "kubectl --kubeconfig" in proc.stderr and "delete namespace doctor-kept" in proc.stderr
        assert "Namespace/doctor-kept" in leftovers(ds)
        assert len([p for p in ds.srv.store.list("Pod", "doctor-kept")]) == 4


def test_existing_namespace_is_never_touched():
    with DoctorServer(nodes=healthy_nodes()) as ds:
        ds.srv.store.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "taken"}})
        proc = doctor(ds, "-o", "json", "--check", "pod.ping", "--namespace", "taken")
        assert proc.returncode == 1
        assert "already exists" in findings(report(proc), "pod.ping")[0]["detail"]
        assert ds.srv.store.get("Namespace", "taken") is not None


def test_unreachable_api_exits_3_with_one_line(tmp_path):
    with DoctorServer() as ds:
        kubeconfig = ds.kubeconfig
    proc = subprocess.run(["kgctl-py", "doctor", "--kubeconfig", kubeconfig], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 3
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr


def test_denied_api_exits_4():
    with DoctorServer(token="right") as ds:
        bad = ds.srv.write_kubeconfig(ds.tmp / "bad", token="wrong")
        proc = subprocess.run(["kgctl-py", "doctor", "--kubeconfig", bad], capture_output=True, text=True, timeout=60)
        assert proc.returncode == 4, proc.stderr
        assert "401" in proc.stderr


@pytest.mark.parametrize("args", [["--check", "nope.*"], ["-o", "yaml"], ["--max-concurrent-execs", "0"]])
def test_usage_errors_exit_2(args):
    proc = subprocess.run(["kgctl-py", "doctor", "--snapshot", str(fx.HERE / "healthy.yaml"), *args], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr


def test_api_tls_san_real_handshakes_on_loopback():
    doc = fx.healthy()
    srv1 = {
        "metadata": {"annotations": {"k3s.io/external-ip": "127.0.0.1", "k3s.io/node-args": '["server","--tls-san","127.0.0.1","--flannel-backend","none"]'}},
        "status": {"addresses": [{"type": "InternalIP", "address": "172.31.0.10"}]},
    }
    doc = fx.apply_case(doc, {"nodes": {"srv1": srv1}})
    with DoctorServer(objects=doc["items"], tls=True) as ds:
        proc = doctor(ds, "-o", "json", "--check", "api.tls-san", "--api-port", str(ds.srv.port))
        assert proc.returncode == 0, proc.stdout + proc.stderr
        found = {f["node"]: f for f in findings(report(proc), "api.tls-san")}
        assert found["kubeconfig"]["status"] == "pass" and found["srv1"]["status"] == "pass"
        assert f"127.0.0.1:{ds.srv.port} covers 127.0.0.1" in found["srv1"]["detail"]


@pytest.mark.parametrize("mode", [(), ("--static-only",)], ids=["live", "static-only"])
def test_forbidden_pods_fail_their_checks_and_the_rest_still_report(mode):
    """RBAC allows nodes, Peers and the CRD but not listing pods: a report, not exit 4."""
    with DoctorServer(nodes=healthy_nodes()) as ds:
        ds.srv.rbac = [("list", "", "nodes"), ("get", "apiextensions.k8s.io", "customresourcedefinitions"), ("list", "kilo.squat.ai", "peers")]
        proc = doctor(ds, "-o", "json", *NO_TLS, *mode)
        assert proc.returncode == 1, proc.stdout + proc.stderr
        assert "Traceback" not in proc.stderr
        doc = report(proc)
        assert status_of(doc, "kilo.endpoint") == "pass" and status_of(doc, "node.ready") == "pass"
        [daemonset] = findings(doc, "kilo.daemonset")
        assert daemonset["status"] == "fail" and "forbidden" in daemonset["detail"].lower()
        assert daemonset["hint"].endswith("auth can-i list pods --all-namespaces")
        # The command in the hint works when pasted: the real kubectl answers it.
        command = daemonset["hint"].split(": ", 1)[1]
        can_i = subprocess.run(command, shell=True, capture_output=True, text=True, timeout=60)
        assert can_i.stdout.strip() == "no", can_i.stdout + can_i.stderr
        if not mode:
            [ip_forward] = findings(doc, "node.ip-forward")
            assert ip_forward["status"] == "fail" and "cannot list the Kilo pods" in ip_forward["detail"]


def test_no_nodes_is_a_failure_not_a_pass(tmp_path):
    snapshot = tmp_path / "empty.yaml"
    snapshot.write_text("apiVersion: v1\nkind: List\nitems: null\n")
    proc = subprocess.run(["kgctl-py", "--snapshot", str(snapshot), "doctor", "-o", "json"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    [finding] = findings(report(proc), "node.ready")
    assert finding["status"] == "fail" and "no nodes" in finding["detail"]


class _NoPodStarts:
    """A kubelet that cannot start any ping pod (as with an image that cannot be pulled)."""

    def on_pod_created(self, pod):
        if pod["metadata"].get("namespace", "").startswith("kgctl-py-doctor"):
            raise RuntimeError("ErrImagePull: busybox:1.36 not found")
        return None


def test_no_pod_ever_created_is_told_apart_from_pods_that_do_not_run():
    """Issue 11: no DaemonSet controller means no pod at all, and the hint says so
    instead of asking about the image."""
    with DoctorServer(nodes=healthy_nodes()) as ds:
        ds.srv._controllers.daemonsets_enabled = False
        proc = doctor(ds, "-o", "json", "--check", "pod.ping", "--timeout", "2")
        assert proc.returncode == 1, proc.stderr
        found = findings(report(proc), "pod.ping")
        assert len(found) == 1 and found[0]["kind"] == "cluster", found
        assert "no ping pod was ever created" in found[0]["detail"] and "no DaemonSet controller" in found[0]["detail"]
        assert "controller manager" in found[0]["hint"] and "image" not in found[0]["hint"]
        assert leftovers(ds) == []
    with DoctorServer(nodes=healthy_nodes(), pod_hooks=_NoPodStarts()) as ds:
        proc = doctor(ds, "-o", "json", "--check", "pod.ping", "--timeout", "2")
        assert proc.returncode == 1, proc.stderr
        found = findings(report(proc), "pod.ping")
        assert sorted(f["node"] for f in found) == ["aws2", "bd1", "gcp1", "srv1"]
        assert all("no running ping pod" in f["detail"] and "pull busybox:1.36" in f["hint"] and "--keep" in f["hint"] for f in found)


def test_no_pods_verdict_names_each_cause():
    from kgctl_py.doctor.ping import no_pods_verdict

    assert "no DaemonSet controller" in no_pods_verdict(None, "kubectl", "dbg")[0]
    detail, hint = no_pods_verdict({"observedGeneration": 1, "desiredNumberScheduled": 0}, "kubectl", "dbg")
    assert "no node to run on" in detail and "TAINTS" in hint
    detail, hint = no_pods_verdict({"observedGeneration": 1, "desiredNumberScheduled": 3, "currentNumberScheduled": 0}, "kubectl", "dbg")
    assert "refused" in detail and "kubectl -n dbg describe daemonset kgctl-py-doctor-ping" in hint


def test_location_plan_on_the_example_pings_leaders_and_peers():
    """--full-matrix-limit below the node count: the example's 4 nodes in 3
    locations get the location plan, with the Peer pinged from each location's
    leader; a Peer that does not answer (the laptop is not in the test server)
    is a warning, not a failure."""
    with DoctorServer(nodes=healthy_nodes()) as ds:
        proc = doctor(ds, "-o", "json", "--check", "pod.ping", "--full-matrix-limit", "3")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        [check] = [c for cat in report(proc)["categories"] for c in cat["checks"] if c["id"] == "pod.ping"]
        data = check["data"]
        assert data["plan"] == "location" and data["execs"] == 4 and "status" not in data
        peer = [r for r in data["results"] if r[1] == "peer laptop"]
        assert sorted(r[0] for r in peer) == ["bd1", "gcp1", "srv1"] and {r[2] for r in peer} == {"10.5.0.1"}
        assert {f["status"] for f in check["findings"] if "peer laptop" in f["node"]} == {"warn"}
        pods = {(r[0], r[1]) for r in data["results"] if not r[1].startswith("peer ")}
        assert {("srv1", "aws2"), ("aws2", "srv1"), ("srv1", "bd1"), ("bd1", "gcp1"), ("gcp1", "srv1")} <= pods
        assert check["status"] == "warn"
        forced = doctor(ds, "-o", "json", "--check", "pod.ping", "--full-matrix-limit", "3", "--full-matrix")
        [full] = [c for cat in report(forced)["categories"] for c in cat["checks"] if c["id"] == "pod.ping"]
        assert full["data"]["plan"] == "full" and full["data"]["probes"] == 12
