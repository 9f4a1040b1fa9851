"""Values kgctl drops or misreads without a word: graph and showconf keep kgctl's
stdout (the core's bytes, compared by tests/test_compat.py) and name each one on
stderr; graph -o svg prints a Graphviz error once."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from kgctl_py.mesh import annotations as ann
from kgctl_py.mesh.cluster import Cluster, Options, graph
from kgctl_py.mesh.model import Granularity
from kgctl_py.sources import read_snapshot

FIXTURE = Path(__file__).resolve().parents[1] / "compat/cases/a-blog-6node/cluster.yaml"
ZERO = "A" * 43 + "="
BASE = yaml.safe_load(FIXTURE.read_text())

# name -> (kind, annotation or spec field, value, words the warning must carry)
CASES = {
    "node key all zeros": ("Node", ann.KEY, ZERO, "is all zeros"),
    "keepalive -5": ("Node", ann.PERSISTENT_KEEPALIVE, "-5", "-5 is outside WireGuard's 0..65535"),
    "keepalive -1": ("Node", ann.PERSISTENT_KEEPALIVE, "-1", "-1 is outside"),
    "keepalive 70000": ("Node", ann.PERSISTENT_KEEPALIVE, "70000", "70000 is outside"),
    "keepalive 65536": ("Node", ann.PERSISTENT_KEEPALIVE, "65536", "65536 is outside"),
    "location with a quote": ("Node", ann.LOCATION, 'a"b', "contains '\"'"),
    "location ending in a quote": ("Node", ann.LOCATION, 'cloud"', "contains '\"'"),
    "allowed-location-ips bogus last": ("Node", ann.ALLOWED_LOCATION_IPS, "10.0.0.0/8,bogus", "'bogus' is not an IP or CIDR"),
    "allowed-location-ips bogus first": ("Node", ann.ALLOWED_LOCATION_IPS, "10.0.0.300/8,192.168.0.0/16", "'10.0.0.300/8' is not an IP or CIDR"),
    "wireguard-ip garbage": ("Node", ann.WIREGUARD_IP, "garbage", "'garbage' is not an IP or CIDR"),
    "wireguard-ip bad prefix": ("Node", ann.WIREGUARD_IP, "10.4.0.1/99", "'10.4.0.1/99' is not an IP or CIDR"),
    "peer key all zeros": ("Peer", "publicKey", ZERO, "publicKey is all zeros"),
    "peer keepalive -5": ("Peer", "persistentKeepalive", -5, "persistentKeepalive -5 is outside"),
    "peer keepalive 70000": ("Peer", "persistentKeepalive", 70000, "persistentKeepalive 70000 is outside"),
}


def broken(case: str) -> tuple[dict[str, Any], str]:
    kind, field, value, _ = CASES[case]
    doc = copy.deepcopy(BASE)
    item = next(i for i in doc["items"] if i["kind"] == kind)
    if kind == "Node":
        item["metadata"].setdefault("annotations", {})[field] = value
    else:
        item["spec"][field] = value
    return doc, f"{kind.lower()} {item['metadata']['name']}"


def run(path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kgctl_py", "--snapshot", str(path), *args], capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("case", sorted(CASES))
def test_graph_keeps_kgctls_stdout_and_warns(tmp_path: Path, case: str) -> None:
    doc, who = broken(case)
    snap = tmp_path / "snap.json"
    snap.write_text(json.dumps(doc))
    proc = run(snap, "graph")
    nodes = [i for i in doc["items"] if i["kind"] == "Node"]
    peers = [i for i in doc["items"] if i["kind"] == "Peer"]
    core = graph(Cluster.from_objects(nodes, peers), Options(Granularity(Granularity.AUTO)), read_snapshot(str(snap)).now)
    assert proc.stdout == core.stdout  # the warning never touches stdout
    warnings = [line for line in proc.stderr.splitlines() if line.startswith("kgctl-py: warning: ")]
    assert len(warnings) == 1 and warnings[0].startswith(f"kgctl-py: warning: {who}: ") and CASES[case][3] in warnings[0], proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("case", ["peer key all zeros", "keepalive -5"])
def test_showconf_warns_too(tmp_path: Path, case: str) -> None:
    doc, who = broken(case)
    snap = tmp_path / "snap.json"
    snap.write_text(json.dumps(doc))
    name = who.split(" ", 1)[1]
    proc = run(snap, "showconf", who.split(" ", 1)[0], name)
    assert f"kgctl-py: warning: {who}: " in proc.stderr and "Traceback" not in proc.stderr


def test_a_graphviz_error_is_printed_once(tmp_path: Path) -> None:
    doc, _ = broken("location with a quote")
    snap = tmp_path / "snap.json"
    snap.write_text(json.dumps(doc))
    # kgctl's own DOT is what breaks on a '"' in a location (the styled picture escapes it).
    proc = run(snap, "graph", "-o", "svg", "--style", "kgctl")
    errors = [line for line in proc.stderr.splitlines() if not line.startswith("kgctl-py: warning: ")]
    assert proc.returncode == 1 and proc.stdout == ""
    assert len(errors) == 1 and errors[0].startswith("Graphviz failed to render svg: "), proc.stderr


def test_a_clean_cluster_has_no_warnings(tmp_path: Path) -> None:
    proc = run(FIXTURE, "graph")
    assert proc.returncode == 0 and proc.stderr == ""
