"""doctor's clock handling (the API server's Date against this machine's clock, --now)
and kilo.agent, live against the test API server and on snapshots."""

from __future__ import annotations

import json

import doctor_fixtures as fx
import yaml
from clirun import run
from kubeapi import KubeAPIServer


def _doctor(*args):
    res = run(["doctor", "--static-only", "-o", "json", *args])
    return res, json.loads(res.stdout)


def _findings(doc, check):
    return [f for cat in doc["categories"] for c in cat["checks"] if c["id"] == check for f in c["findings"]]


def _objects(doc=None):
    return [o for o in (doc or fx.healthy())["items"] if o["kind"] in ("Node", "Peer", "DaemonSet")]


def test_this_machines_clock_gets_its_own_finding_not_every_node(tmp_path):
    with KubeAPIServer(_objects(), captured_at=fx.CAPTURED_AT) as srv:
        # The server (and the nodes that agree with it) run an hour ahead of this machine.
        srv.clock_offset = 3600
        kubeconfig = srv.write_kubeconfig(tmp_path / "kubeconfig")
        res, doc = _doctor("--kubeconfig", kubeconfig, "--check", "kilo.last-seen", "--check", "kilo.hidden")
    seen = _findings(doc, "kilo.last-seen")
    nodes = [f for f in seen if f["kind"] == "node"]
    assert len(nodes) == 4 and all(f["status"] == "pass" for f in nodes), nodes
    clock = [f for f in seen if f["node"] == "this-machine"]
    assert len(clock) == 1 and clock[0]["status"] == "warn"
    assert "1h00m behind the API server's" in clock[0]["detail"] or "59m" in clock[0]["detail"], clock[0]
    assert "API server 20" in clock[0]["detail"] and "this machine 20" in clock[0]["detail"]
    assert all(f["status"] == "pass" for f in _findings(doc, "kilo.hidden"))
    assert res.code == 0


def test_clocks_that_agree_are_reported(tmp_path):
    with KubeAPIServer(_objects(), captured_at=fx.CAPTURED_AT) as srv:
        kubeconfig = srv.write_kubeconfig(tmp_path / "kubeconfig")
        _, doc = _doctor("--kubeconfig", kubeconfig, "--check", "kilo.last-seen")
    clock = [f for f in _findings(doc, "kilo.last-seen") if f["node"] == "this-machine"]
    assert clock and clock[0]["status"] == "pass" and "clocks agree" in clock[0]["detail"]


def test_now_given_says_at_now_and_blames_no_clock(tmp_path):
    path = fx.write(fx.healthy(), tmp_path / "snap.yaml")
    res, doc = _doctor("--snapshot", path, "--now", "1999999999", "--check", "kilo.last-seen")
    stale = [f for f in _findings(doc, "kilo.last-seen") if f["status"] == "fail"]
    assert len(stale) == 4
    for f in stale:
        assert "at --now" in f["detail"] and "capture time" not in f["detail"]
        assert "clock" not in f["hint"] and "clock" not in f["detail"]
    assert not [f for f in _findings(doc, "kilo.last-seen") if f["node"] in ("cluster", "this-machine")]
    assert res.code == 1


def test_a_node_listed_twice_reads_as_listed_twice(tmp_path):
    doc = fx.healthy()
    gcp1 = next(i for i in doc["items"] if i["metadata"]["name"] == "gcp1")
    doc["items"].append(gcp1)
    res, report = _doctor("--snapshot", fx.write(doc, tmp_path / "snap.yaml"), "--check", "kilo.peers")
    (finding,) = [f for f in _findings(report, "kilo.peers") if f["status"] == "fail"]
    assert "node gcp1 appears 2 times" in finding["detail"] and "node gcp1, node gcp1" not in finding["detail"]


def test_agent_live_and_from_the_snapshot_it_writes(tmp_path):
    doc = fx.apply_case(
        fx.healthy(),
        {
            "daemonsets": {
                "kilo": {
                    "spec": {
                        "template": {
                            "spec": {
                                "containers": [
                                    {"name": "kilo", "image": "squat/kilo:0.6.0", "args": ["--hostname=$(NODE_NAME)", "--port", "51821", "--mtu=1500"]}
                                ]
                            }
                        }
                    }
                }
            }
        },
    )
    with KubeAPIServer(_objects(doc), captured_at=fx.CAPTURED_AT) as srv:
        kubeconfig = srv.write_kubeconfig(tmp_path / "kubeconfig")
        res, live = _doctor("--kubeconfig", kubeconfig, "--check", "kilo.agent")
        snap = run(["snapshot", "--kubeconfig", kubeconfig, "-o", str(tmp_path / "snap.yaml")])
        assert snap.code == 0, snap.stderr
        # Without permission to list DaemonSets the check is skipped with the command to ask.
        srv.rbac = [("*", "", "*"), ("*", "apiextensions.k8s.io", "*"), ("*", "kilo.squat.ai", "*")]
        res_denied, denied = _doctor("--kubeconfig", kubeconfig, "--check", "kilo.agent")
    details = [(f["status"], f["detail"]) for f in _findings(live, "kilo.agent")]
    assert ("fail", "Kilo listens on --port 51821, kgctl-py runs with --port 51820: showconf prints the wrong ListenPort") in details
    assert any(s == "warn" and "--mtu 1500" in d for s, d in details)
    assert any(s == "warn" and "Peers cannot reach Services (10.43.0.0/16, K3s's default)" in d for s, d in details)
    assert res.code == 1
    captured = yaml.safe_load((tmp_path / "snap.yaml").read_text())
    assert [i["metadata"]["name"] for i in captured["items"] if i["kind"] == "DaemonSet"] == ["kilo"]
    _, offline = _doctor("--snapshot", str(tmp_path / "snap.yaml"), "--check", "kilo.agent")
    assert [(f["status"], f["detail"]) for f in _findings(offline, "kilo.agent")] == details
    (skip,) = _findings(denied, "kilo.agent")
    assert skip["status"] == "skip" and "kubectl auth can-i get daemonsets.apps -n kube-system" in skip["detail"]
    assert res_denied.code == 0


def test_agent_skipped_on_a_snapshot_without_daemonsets(tmp_path):
    doc = fx.healthy()
    doc["items"] = [i for i in doc["items"] if i["kind"] != "DaemonSet"]
    _, report = _doctor("--snapshot", fx.write(doc, tmp_path / "snap.yaml"), "--check", "kilo.agent")
    (f,) = _findings(report, "kilo.agent")
    assert f["status"] == "skip" and "no DaemonSets in the input" in f["detail"]


def test_snapshot_records_both_clocks_and_doctor_reports_the_skew_offline(tmp_path):
    with KubeAPIServer(_objects(), captured_at=fx.CAPTURED_AT) as srv:
        srv.clock_offset = -600
        kubeconfig = srv.write_kubeconfig(tmp_path / "kubeconfig")
        assert run(["snapshot", "--kubeconfig", kubeconfig, "-o", str(tmp_path / "snap.yaml")]).code == 0
    notes = yaml.safe_load((tmp_path / "snap.yaml").read_text())["metadata"]["annotations"]
    assert abs(int(notes["kgctl-py.squat.ai/captured-at"]) - int(notes["kgctl-py.squat.ai/server-time"]) - 600) <= 5
    _, doc = _doctor("--snapshot", str(tmp_path / "snap.yaml"), "--check", "kilo.last-seen")
    (clock,) = [f for f in _findings(doc, "kilo.last-seen") if f["node"] == "this-machine"]
    assert clock["status"] == "warn" and "ahead of the API server's" in clock["detail"] and "at capture" in clock["detail"]
