"""`kgctl-py status`: rows, reasons and formats, on snapshots and against the test API server.

The reasons are the core's (``kgctl_py.mesh.membership``); here they are
checked against what graph and showconf actually do with the same input.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sysconfig

import doctor_fixtures as fx
import pytest
import yaml
from clirun import run
from kubeapi import KubeAPIServer

from kgctl_py.mesh.cluster import Cluster, KgctlError, Options, showconf_node, showconf_peer
from kgctl_py.mesh.membership import members, why_hidden

ROOT = pathlib.Path(__file__).resolve().parents[2]
CASES = ROOT / "tests" / "compat" / "cases"
SCRIPTS = pathlib.Path(sysconfig.get_path("scripts"))


def _write(tmp_path, doc, name="snap.yaml"):
    return fx.write(doc, tmp_path / name)


def _status_json(*args):
    res = run(["status", "-o", "json", *args])
    assert res.code == 0, res.stderr
    return json.loads(res.stdout)


def test_healthy_snapshot_every_object_in_the_mesh(tmp_path):
    doc = _status_json("--snapshot", str(fx.HERE / "healthy.yaml"))
    names = [(i["type"], i["name"], i["inMesh"]) for i in doc["items"]]
    assert names == [("node", "srv1", True), ("node", "aws2", True), ("node", "gcp1", True), ("node", "bd1", True), ("peer", "laptop", True)]
    by = {i["name"]: i for i in doc["items"]}
    # Leaders as graph elects them, with the rule.
    assert [n for n, i in by.items() if i.get("leader")] == ["srv1", "gcp1", "bd1"]
    assert "annotated kilo.squat.ai/leader" in by["srv1"]["electedBy"]
    assert by["aws2"]["wireguardIP"] is None and by["srv1"]["wireguardIP"] == "10.4.0.1"
    assert by["bd1"]["lastSeenAgeSeconds"] == 5 and by["laptop"]["allowedIPs"] == ["10.5.0.1/32"]


BROKEN = [
    ("nodes", "gcp1", {"metadata": {"annotations": {"kilo.squat.ai/key": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}}}, "all-zero key"),
    ("nodes", "gcp1", {"metadata": {"annotations": {"kilo.squat.ai/key": None}}}, "no key"),
    ("nodes", "aws2", {"metadata": {"annotations": {"kilo.squat.ai/endpoint": None, "kilo.squat.ai/force-endpoint": None}}}, "no endpoint"),
    ("nodes", "aws2", {"metadata": {"annotations": {"kilo.squat.ai/endpoint": "203.0.113.11:0", "kilo.squat.ai/force-endpoint": None}}}, "no endpoint"),
    ("nodes", "bd1", {"metadata": {"annotations": {"kilo.squat.ai/last-seen": "1759990000"}}}, "stale last-seen: 2h46m ago"),
    ("nodes", "bd1", {"metadata": {"annotations": {"kilo.squat.ai/last-seen": "soon"}}}, "no last-seen"),
    ("nodes", "srv1", {"spec": {"podCIDR": "bogus"}}, "no pod CIDR"),
    ("peers", "laptop", {"spec": {"allowedIPs": None}}, "no allowed IPs"),
    ("peers", "laptop", {"spec": {"publicKey": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}}, "all-zero public key"),
    ("peers", "laptop", {"spec": {"persistentKeepalive": -5}}, "invalid Peer: persistent keepalive must be greater than or equal to zero"),
    ("peers", "laptop", {"spec": {"allowedIPs": ["10.5.0.1/32", "bogus"]}}, "invalid Peer: failed to parse"),
]


@pytest.mark.parametrize(("section", "name", "patch", "reason"), BROKEN, ids=[f"{b[1]}-{b[3]}" for b in BROKEN])
def test_broken_snapshot_names_the_reason_and_kgctl_agrees(tmp_path, section, name, patch, reason):
    doc = fx.apply_case(fx.healthy(), {section: {name: patch}})
    path = _write(tmp_path, doc)
    item = _status_json("--snapshot", path, name)
    assert item["kind"] == "Status" and item["name"] == name
    assert item["inMesh"] is False
    assert any(reason in r for r in item["reasons"]), item["reasons"]
    # graph/showconf really leave it out.
    kind = "node" if section == "nodes" else "peer"
    res = run(["showconf", kind, name, "--snapshot", path])
    assert res.code == 1 and f"did not find any {kind} named" in res.stderr.decode()
    table = run(["status", "--snapshot", path]).stdout.decode()
    row = next(line for line in table.splitlines() if line.startswith(name + " "))
    assert " no " in row and reason.split(":")[0] in row


def test_reasons_agree_with_kgctls_own_selection_on_every_compat_fixture():
    # For every recorded cluster, a node or peer is in the mesh exactly when showconf finds it.
    from kubeapi import load_fixture

    checked = 0
    for case_dir in sorted(CASES.iterdir()):
        objects, meta = load_fixture(case_dir)
        nodes = [o for o in objects if o.get("kind") == "Node"]
        peers = [o for o in objects if o.get("kind") == "Peer"]
        cluster = Cluster.from_objects(nodes, peers)
        now = int(meta.get("capturedAt") or 0)
        for m in members(cluster, now):
            show = showconf_node if m.kind == "node" else showconf_peer
            try:
                show(cluster, m.name, Options(), now)
                found = True
            except KgctlError as err:
                found = "did not find any" not in str(err)
                if "did not find any valid Kilo nodes" in str(err):
                    found = False
            assert found == m.in_mesh, (case_dir.name, m)
            checked += 1
    assert checked > 50


def test_duplicate_node_name_hides_the_first_ready_copy():
    healthy = fx.split(fx.healthy())[0]
    dup = fx.merge_patch(healthy[2], {"spec": {"podCIDR": "10.42.9.0/24"}})
    cluster = Cluster.from_objects([*healthy, dup], [])
    rows = [(m.name, m.in_mesh) for m in members(cluster, fx.CAPTURED_AT)]
    assert rows.count(("gcp1", False)) == 1 and rows.count(("gcp1", True)) == 1
    assert rows.index(("gcp1", False)) < rows.index(("gcp1", True))
    assert why_hidden(cluster.nodes[2], fx.CAPTURED_AT) == []


def test_wide_and_yaml(tmp_path):
    res = run(["status", "-o", "wide", "--snapshot", str(fx.HERE / "healthy.yaml")])
    head = res.stdout.decode().splitlines()[0].split()
    assert head == [
        "NAME",
        "KIND",
        "LOCATION",
        "LEADER",
        "ENDPOINT",
        "WIREGUARD-IP",
        "POD-CIDR",
        "LAST-SEEN",
        "IN-MESH",
        "INTERNAL-IP",
        "KEEPALIVE",
        "GRANULARITY",
        "ELECTED-BY",
        "WHY-NOT",
    ]
    doc = yaml.safe_load(run(["status", "-o", "yaml", "--snapshot", str(fx.HERE / "healthy.yaml")]).stdout)
    assert doc["kind"] == "StatusList" and len(doc["items"]) == 5


@pytest.mark.parametrize("fmt", ["table", "wide"])
def test_control_characters_in_a_table_are_shown_not_obeyed(tmp_path, fmt):
    """An annotation's ESC would drive the terminal (retitle it, clear the screen), a line break split the row."""
    doc = fx.healthy()
    node = next(i for i in doc["items"] if i["kind"] == "Node")
    node["metadata"]["annotations"]["kilo.squat.ai/location"] = "evil\x1b]0;pwned\x07\x1b[2J\nrow\u202e"
    res = run(["status", "-o", fmt, "--snapshot", _write(tmp_path, doc)])
    assert res.code == 0, res.stderr
    text = res.stdout.decode()
    assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text
    assert len(text.splitlines()) == 1 + len(doc["items"]) - sum(i["kind"] in ("Pod", "DaemonSet") for i in doc["items"])
    assert "evil\\x1b]0;pwned\\a\\x1b[2J\\nrow\\u202e" in text


def test_unknown_name_and_bad_format(tmp_path):
    res = run(["status", "nope", "--snapshot", str(fx.HERE / "healthy.yaml")])
    assert res.code == 1 and res.stdout == b""
    assert res.stderr.decode() == 'did not find any node or peer named "nope" in the cluster\n'
    res = run(["status", "-o", "xml", "--snapshot", str(fx.HERE / "healthy.yaml")])
    assert res.code == 2 and len(res.stderr.decode().splitlines()) == 1


def test_live_against_the_test_api_server(tmp_path):
    doc = fx.apply_case(fx.healthy(), {"nodes": {"aws2": {"metadata": {"annotations": {"kilo.squat.ai/key": None}}}}})
    objects = [o for o in doc["items"] if o["kind"] in ("Node", "Peer")]
    with KubeAPIServer(objects, captured_at=fx.CAPTURED_AT) as srv:
        kubeconfig = srv.write_kubeconfig(tmp_path / "kubeconfig")
        listed = _status_json("--kubeconfig", kubeconfig)
        by = {i["name"]: i for i in listed["items"]}
        assert by["aws2"]["inMesh"] is False and by["aws2"]["reasons"][0].startswith("no key")
        assert all(by[n]["inMesh"] for n in ("srv1", "gcp1", "bd1", "laptop"))
        # Live, the age is judged now: the server shifts last-seen to stay 5 s old.
        assert 0 <= by["srv1"]["lastSeenAgeSeconds"] < 30
        one = _status_json("--kubeconfig", kubeconfig, "laptop")
        assert one["type"] == "peer" and one["inMesh"] is True
        # TAB completion offers every node and peer, hidden ones included.
        env = {**os.environ, "_KGCTL_PY_COMPLETE": "bash_complete", "COMP_WORDS": f"kgctl-py status --kubeconfig {kubeconfig} ", "COMP_CWORD": "4"}
        proc = subprocess.run([str(SCRIPTS / "kgctl-py")], env=env, capture_output=True, text=True, timeout=60)
        offered = [line.split(",", 1)[1] for line in proc.stdout.splitlines() if line.startswith("plain,")]
        assert offered == [i["name"] for i in listed["items"]] and sorted(offered) == ["aws2", "bd1", "gcp1", "laptop", "srv1"], proc


def test_completion_on_a_snapshot(tmp_path):
    env = {**os.environ, "_KGCTL_PY_COMPLETE": "bash_complete", "COMP_WORDS": f"kgctl-py status --snapshot {fx.HERE / 'healthy.yaml'} g", "COMP_CWORD": "4"}
    proc = subprocess.run([str(SCRIPTS / "kgctl-py")], env=env, capture_output=True, text=True, timeout=60)
    assert [line.split(",", 1)[1] for line in proc.stdout.splitlines() if line.startswith("plain,")] == ["gcp1"]
