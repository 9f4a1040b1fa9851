"""`kgctl-py snapshot`: what a live cluster answers, a snapshot answers too, without secrets."""

from __future__ import annotations

import json
import pathlib
import shutil
import subprocess
import sysconfig
import time

import pytest
import yaml
from clirun import run
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kubeapi import KubeAPIServer, load_fixture
from kubeapi.testing import wait_until

from kgctl_py import sources
from kgctl_py.snapshot import MASK, dump_yaml, redact

ROOT = pathlib.Path(__file__).resolve().parents[2]
CASES = ROOT / "tests" / "compat" / "cases"
SCRIPTS = pathlib.Path(sysconfig.get_path("scripts"))
KGCTL = str(SCRIPTS / "kgctl-py") if (SCRIPTS / "kgctl-py").exists() else shutil.which("kgctl-py") or "kgctl-py"

KILO_DAEMONSET = {
    "apiVersion": "apps/v1",
    "kind": "DaemonSet",
    "metadata": {"name": "kilo", "namespace": "kube-system", "labels": {"app.kubernetes.io/name": "kilo"}},
    "spec": {
        "selector": {"matchLabels": {"app.kubernetes.io/name": "kilo"}},
        "template": {
            "metadata": {"labels": {"app.kubernetes.io/name": "kilo"}},
            "spec": {
                "hostNetwork": True,
                "tolerations": [{"operator": "Exists"}],
                "containers": [
                    {
                        "name": "kilo",
                        "image": "squat/kilo:0.6.0",
                        "args": ["--hostname=$(NODE_NAME)", "--mesh-granularity=location"],
                        "env": [
                            {"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
                            {"name": "WEBHOOK_TOKEN", "value": "pod-env-secret-value"},
                        ],
                    }
                ],
            },
        },
    },
}
# Not Kilo: must stay out of the snapshot.
OTHER_POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "coredns-1", "namespace": "kube-system", "labels": {"k8s-app": "kube-dns"}},
    "spec": {"containers": [{"name": "coredns", "image": "coredns"}]},
}


def running_kilo_pods(srv: KubeAPIServer) -> int:
    pods = srv.store.list("Pod", label_selector="app.kubernetes.io/name=kilo")
    return sum(1 for p in pods if (p.get("status") or {}).get("phase") == "Running")


def serve(fixture: str, extra: list[dict] | None = None, mutate=None) -> KubeAPIServer:
    objects, meta = load_fixture(CASES / fixture)
    if mutate is not None:
        mutate(objects)
    return KubeAPIServer(objects + list(extra or []), crd=meta["crd"], captured_at=meta["capturedAt"])


def snapshot(kubeconfig: str, out: pathlib.Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([KGCTL, "--kubeconfig", kubeconfig, "snapshot", "-o", str(out), *extra], capture_output=True, text=True, timeout=60)


def node_count(fixture: str) -> int:
    return sum(1 for o in load_fixture(CASES / fixture)[0] if o.get("kind") == "Node")


def _verdicts(report: bytes) -> list[tuple[str, str, list[tuple[str, str]]]]:
    doc = json.loads(report)
    return [
        (check["id"], check["status"], [(f["node"], f["status"]) for f in check["findings"]]) for category in doc["categories"] for check in category["checks"]
    ]


def _same_cause(stderr: bytes) -> bytes:
    """Without the Peer CRD the message names the source (the API's 404, or the snapshot's record)."""
    head, sep, _ = stderr.partition(b"CRD is not present: ")
    return head + sep


# Fixtures with fresh, stale and incomplete nodes, IPv6, and no Peer CRD at all.
@pytest.mark.parametrize("fixture", ["a-blog-6node", "j-stale-and-incomplete", "f-ipv6-6node", "n-crd-absent"])
def test_round_trip_gives_the_live_answers(fixture: str, tmp_path: pathlib.Path) -> None:
    cases = json.loads((CASES / fixture / "cases.json").read_text())
    with serve(fixture, [KILO_DAEMONSET]) as srv:
        kubeconfig = srv.write_kubeconfig(tmp_path / "kubeconfig")
        want_pods = node_count(fixture)
        wait_until(lambda: running_kilo_pods(srv) == want_pods, timeout=10, what="the Kilo pods")
        proc = snapshot(kubeconfig, tmp_path / "snap.yaml")
        assert proc.returncode == 0, proc.stderr
        live = {tuple(c["args"]): run(["--kubeconfig", kubeconfig, *c["args"]]) for c in cases}
        live_doctor = {fmt: run(["--kubeconfig", kubeconfig, "doctor", "--static-only", "-o", fmt]) for fmt in ("short", "json")}
    snap = tmp_path / "snap.yaml"
    # The static doctor checks reach the same verdicts on every node (the wording
    # of a detail may say "at capture time" instead of "by this machine's clock").
    for fmt, want in live_doctor.items():
        got = run(["--snapshot", str(snap), "doctor", "--static-only", "-o", fmt])
        assert got.code == want.code and got.stderr == want.stderr, got.stderr
        if fmt == "short":
            assert got.stdout == want.stdout
        else:
            assert _verdicts(got.stdout) == _verdicts(want.stdout)
            assert _verdicts(got.stdout)
    mismatches = []
    for case in cases:
        args = tuple(case["args"])
        got = run(["--snapshot", str(snap), *args])
        if (got.code, got.stdout, _same_cause(got.stderr)) != (live[args].code, live[args].stdout, _same_cause(live[args].stderr)):
            mismatches.append(f"{' '.join(args)}: snapshot exit {got.code} {got.stderr[:120]!r}, live exit {live[args].code} {live[args].stderr[:120]!r}")
        # And both are kgctl's answer, where kgctl printed one (not its usage text).
        golden = (CASES / fixture / case["stdout"]).read_bytes()
        if case["exit"] == 0 and got.stdout != golden:
            mismatches.append(f"{' '.join(args)}: differs from kgctl's golden output")
    assert not mismatches, "\n".join(mismatches)
    doc = yaml.safe_load(snap.read_text())
    kinds = [i["kind"] for i in doc["items"]]
    assert kinds.count("Node") == node_count(fixture)
    assert kinds.count("Pod") == node_count(fixture)
    meta = json.loads((CASES / fixture / "meta.json").read_text())
    assert doc["metadata"]["annotations"][sources.CRD_PRESENT] == ("true" if meta["crd"] else "false")


def test_snapshot_records_capture_time_and_only_kilo_pods(tmp_path: pathlib.Path) -> None:
    with serve("a-blog-6node", [KILO_DAEMONSET, OTHER_POD]) as srv:
        kubeconfig = srv.write_kubeconfig(tmp_path / "kubeconfig")
        wait_until(lambda: running_kilo_pods(srv) == 6, timeout=10, what="the Kilo pods")
        before = int(time.time())
        proc = snapshot(kubeconfig, tmp_path / "snap.yaml")
        after = int(time.time())
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""
    assert proc.stderr == f"kgctl-py: wrote 6 nodes, 2 peers and 6 Kilo pods to {tmp_path / 'snap.yaml'}\n"
    doc = yaml.safe_load((tmp_path / "snap.yaml").read_text())
    assert (doc["apiVersion"], doc["kind"]) == ("v1", "List")
    captured = int(doc["metadata"]["annotations"][sources.CAPTURED_AT])
    assert before <= captured <= after
    pods = [i for i in doc["items"] if i["kind"] == "Pod"]
    assert {p["metadata"]["labels"]["app.kubernetes.io/name"] for p in pods} == {"kilo"}
    assert all(p["apiVersion"] == "v1" and p["status"]["phase"] == "Running" for p in pods)
    assert {p["spec"]["nodeName"] for p in pods} == {i["metadata"]["name"] for i in doc["items"] if i["kind"] == "Node"}
    # read_snapshot sees the same objects and judges them at the capture time.
    objects = sources.read_snapshot(str(tmp_path / "snap.yaml"))
    assert (len(objects.nodes), len(objects.peers), len(objects.pods), objects.now, objects.crd_present) == (6, 2, 6, captured, True)


def _daemonset_verdict(*args: str) -> tuple[int, list[tuple[str, str, list[tuple[str, str]]]]]:
    got = run([*args, "doctor", "--static-only", "--check", "kilo.daemonset", "-o", "json"])
    return got.code, _verdicts(got.stdout)


def test_snapshot_records_what_it_read_so_none_means_none(tmp_path: pathlib.Path) -> None:
    """No Kilo pods in the cluster: the snapshot says it listed them, so doctor fails
    kilo.daemonset offline as it does live, instead of skipping it as not captured."""
    with serve("a-blog-6node", [OTHER_POD]) as srv:
        kubeconfig = srv.write_kubeconfig(tmp_path / "kubeconfig")
        proc = snapshot(kubeconfig, tmp_path / "snap.yaml")
        live = _daemonset_verdict("--kubeconfig", kubeconfig)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == f"kgctl-py: wrote 6 nodes, 2 peers and 0 Kilo pods to {tmp_path / 'snap.yaml'}\n"
    doc = yaml.safe_load((tmp_path / "snap.yaml").read_text())
    assert doc["metadata"]["annotations"][sources.LISTED] == "Node,Peer,Pod,DaemonSet"
    assert {i["kind"] for i in doc["items"]} == {"Node", "Peer"}
    objects = sources.read_snapshot(str(tmp_path / "snap.yaml"))
    assert (objects.pods, objects.pods_listed, objects.daemonsets, objects.daemonset_listed) == ([], True, [], True)
    offline = _daemonset_verdict("--snapshot", str(tmp_path / "snap.yaml"))
    assert live[0] == 1 and live[1][0][1] == "fail"
    assert offline == live
    # A dump that does not say what it read: no pods there means not captured.
    del doc["metadata"]["annotations"][sources.LISTED]
    (tmp_path / "dump.yaml").write_text(yaml.safe_dump(doc))
    code, verdicts = _daemonset_verdict("--snapshot", str(tmp_path / "dump.yaml"))
    assert (code, verdicts) == (0, [("kilo.daemonset", "skip", [("cluster", "skip")])])


def test_snapshot_keeps_kilos_daemonset_without_its_env_values(tmp_path: pathlib.Path) -> None:
    with serve("a-blog-6node", [KILO_DAEMONSET]) as srv:
        kubeconfig = srv.write_kubeconfig(tmp_path / "kubeconfig")
        proc = snapshot(kubeconfig, tmp_path / "snap.yaml")
    assert proc.returncode == 0, proc.stderr
    objects = sources.read_snapshot(str(tmp_path / "snap.yaml"))
    assert objects.daemonset_listed and len(objects.daemonsets) == 1
    ds = objects.daemonsets[0]
    assert (ds["apiVersion"], ds["kind"], ds["metadata"]["namespace"], ds["metadata"]["name"]) == ("apps/v1", "DaemonSet", "kube-system", "kilo")
    container = ds["spec"]["template"]["spec"]["containers"][0]
    # kilo.agent reads the args offline; literal env values are credentials.
    assert container["args"] == ["--hostname=$(NODE_NAME)", "--mesh-granularity=location"]
    assert [e.get("value") for e in container["env"]] == [None, MASK]
    assert "pod-env-secret-value" not in (tmp_path / "snap.yaml").read_text()


def test_snapshot_to_stdout_and_from_a_snapshot(tmp_path: pathlib.Path) -> None:
    with serve("a-blog-6node") as srv:
        kubeconfig = srv.write_kubeconfig(tmp_path / "kubeconfig")
        proc = subprocess.run([KGCTL, "snapshot", "--kubeconfig", kubeconfig, "--now", "1800000000"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    first = tmp_path / "first.yaml"
    first.write_text(proc.stdout)
    doc = yaml.safe_load(proc.stdout)
    # --now is the time the snapshot is judged at.
    assert doc["metadata"]["annotations"][sources.CAPTURED_AT] == "1800000000"
    # Re-snapshotting a snapshot is a fixed point.
    again = subprocess.run([KGCTL, "--snapshot", str(first), "snapshot"], capture_output=True, text=True, timeout=60)
    assert again.returncode == 0, again.stderr
    assert again.stdout == proc.stdout


SECRET_PSK = "hNY0QikWsXYKMJHPOUt2exOqGPBVmVcqC1jr1B9sUdE="
SECRET_TOKEN = "K10aaaabbbbccccdddd::server:0123456789abcdef"


def _add_secrets(objects: list[dict]) -> None:
    for obj in objects:
        notes = obj["metadata"].setdefault("annotations", {})
        if obj["kind"] == "Peer" and obj["metadata"]["name"] == "laptop":
            obj["spec"]["presharedKey"] = SECRET_PSK
            notes["kubectl.kubernetes.io/last-applied-configuration"] = json.dumps({"spec": {"presharedKey": SECRET_PSK}})
        if obj["kind"] == "Node" and obj["metadata"]["name"] == "ty1.k3s":
            notes["k3s.io/node-args"] = json.dumps(
                ["server", "--token", SECRET_TOKEN, "--datastore-endpoint=postgres://k3s:hunter2@db:5432/k3s", "--node-external-ip", "203.0.113.10"]
            )
            notes["k3s.io/node-env"] = json.dumps({"K3S_TOKEN": SECRET_TOKEN, "K3S_DATA_DIR": "/var/lib/rancher/k3s"})


def test_snapshot_leaves_secrets_out(tmp_path: pathlib.Path) -> None:
    with serve("a-blog-6node", [KILO_DAEMONSET], mutate=_add_secrets) as srv:
        kubeconfig = srv.write_kubeconfig(tmp_path / "kubeconfig")
        wait_until(lambda: running_kilo_pods(srv) == 6, timeout=10, what="the Kilo pods")
        proc = snapshot(kubeconfig, tmp_path / "snap.yaml")
        assert proc.returncode == 0, proc.stderr
        live_graph = run(["--kubeconfig", kubeconfig, "graph"])
    text = (tmp_path / "snap.yaml").read_text()
    for secret in (SECRET_PSK, SECRET_TOKEN, "hunter2", "pod-env-secret-value", "managedFields"):
        assert secret not in text
    doc = yaml.safe_load(text)
    items = {(i["kind"], i["metadata"].get("name", "")): i for i in doc["items"]}
    laptop = items[("Peer", "laptop")]
    assert "presharedKey" not in laptop["spec"]
    assert "kubectl.kubernetes.io/last-applied-configuration" not in laptop["metadata"]["annotations"]
    assert "spec.presharedKey" in laptop["metadata"]["annotations"]["kgctl-py.squat.ai/redacted"]
    notes = items[("Node", "ty1.k3s")]["metadata"]["annotations"]
    # What is not a credential stays: doctor reads the node's flags.
    assert json.loads(notes["k3s.io/node-args"]) == ["server", "--token", MASK, f"--datastore-endpoint={MASK}", "--node-external-ip", "203.0.113.10"]
    assert json.loads(notes["k3s.io/node-env"]) == {"K3S_TOKEN": MASK, "K3S_DATA_DIR": "/var/lib/rancher/k3s"}
    env = [c["env"] for i in doc["items"] if i["kind"] == "Pod" for c in i["spec"]["containers"]]
    assert all(e == [{"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}, {"name": "WEBHOOK_TOKEN", "value": MASK}] for e in env)
    # The graph does not depend on secrets.
    assert run(["--snapshot", str(tmp_path / "snap.yaml"), "graph"]).stdout == live_graph.stdout


def test_snapshot_errors_are_one_line(tmp_path: pathlib.Path) -> None:
    with serve("a-blog-6node") as srv:
        kubeconfig = srv.write_kubeconfig(tmp_path / "kubeconfig")
        proc = snapshot(kubeconfig, tmp_path / "no-such-dir" / "snap.yaml")
        assert proc.returncode == 2
        assert proc.stderr.count("\n") == 1 and proc.stderr.startswith(f"cannot write snapshot {tmp_path / 'no-such-dir' / 'snap.yaml'}:")
        srv.rbac = [("list", "", "nodes"), ("get", "apiextensions.k8s.io", "customresourcedefinitions"), ("list", "kilo.squat.ai", "peers")]
        # Pods are optional: a warning, and the rest is still saved.
        proc = snapshot(kubeconfig, tmp_path / "snap.yaml")
        assert proc.returncode == 0, proc.stderr
        assert proc.stderr.splitlines()[0].startswith("kgctl-py: warning: cannot list pods: forbidden (403)")
        srv.rbac = [("get", "apiextensions.k8s.io", "customresourcedefinitions")]
        proc = snapshot(kubeconfig, tmp_path / "denied.yaml")
        assert proc.returncode == 4
        assert "Traceback" not in proc.stderr and proc.stderr.count("\n") == 1
        assert not (tmp_path / "denied.yaml").exists()
    proc = snapshot(kubeconfig, tmp_path / "gone.yaml")
    assert proc.returncode == 3
    assert proc.stderr.count("\n") == 1
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


# Any text the API can hold (no lone surrogates: those are not valid UTF-8).
_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
_key = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=20).filter(lambda k: not k.startswith(("k3s.io/", "kubectl.kubernetes.io/")))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(notes=st.dictionaries(_key, _text, max_size=5), labels=st.dictionaries(_key, _text, max_size=3))
def test_dump_reads_back_exactly(notes: dict[str, str], labels: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> None:
    """Whatever strings the API holds, the YAML we write reads back as the same objects."""
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1", "annotations": notes, "labels": labels}, "spec": {"podCIDR": "10.42.0.0/24"}}
    doc = {
        "apiVersion": "v1",
        "kind": "List",
        "metadata": {"annotations": {sources.CAPTURED_AT: "1760000000", sources.CRD_PRESENT: "true"}},
        "items": [redact(node)],
    }
    path = tmp_path_factory.mktemp("dump") / "snap.yaml"
    path.write_text(dump_yaml(doc), encoding="utf-8")
    objects = sources.read_snapshot(str(path))
    assert objects.nodes == [node]
    assert objects.now == 1760000000


def test_redact_replaces_lone_surrogates() -> None:
    obj = redact({"kind": "Node", "metadata": {"name": "n\ud800"}})
    assert obj["metadata"]["name"] == "n\ufffd"
    dump_yaml({"items": [obj]}).encode("utf-8")
