"""Writes: namespaces, pods, the DaemonSet controller, deletion propagation, PATCH/PUT, peers."""

from __future__ import annotations

import ipaddress
import json
import threading
import time
from pathlib import Path

import pytest
from kubeapi import KubeAPIServer, load_fixture
from kubeapi.testing import api_client, http, wait_until
from kubernetes import client
from kubernetes.client.rest import ApiException

BLOG = Path(__file__).resolve().parents[1] / "compat" / "cases" / "a-blog-6node"  # the repo's copy: a fresh clone has it
NODES = ["ali1.k3s", "bd1.k3s", "bd2.k3s", "hw1.k3s", "tx1.k3s", "ty1.k3s"]
MERGE = {"Content-Type": "application/merge-patch+json"}
pytestmark = pytest.mark.skipif(not BLOG.is_dir(), reason="compat fixtures not available")


class Hooks:
    """Records pod life-cycle calls; gives pods on one node a chosen IP."""

    def __init__(self, ip_for: dict[str, str] | None = None):
        self.created: list[str] = []
        self.deleted: list[str] = []
        self.ip_for = ip_for or {}
        self.lock = threading.Lock()

    def on_pod_created(self, pod):
        assert threading.current_thread().name.startswith("kubeapi-worker")
        with self.lock:
            self.created.append(pod["metadata"]["name"])
        ip = self.ip_for.get(pod["spec"]["nodeName"])
        if ip:
            pod["status"]["podIP"] = ip
            return pod
        return None

    def on_pod_deleted(self, pod):
        with self.lock:
            self.deleted.append(pod["metadata"]["name"])


@pytest.fixture
def hooks():
    return Hooks({"hw1.k3s": "10.99.0.7"})


@pytest.fixture
def srv(hooks):
    objects, meta = load_fixture(BLOG)
    with KubeAPIServer(objects, captured_at=meta["capturedAt"], pod_hooks=hooks) as s:
        yield s


@pytest.fixture
def api(srv, tmp_path):
    with api_client(srv.write_kubeconfig(tmp_path / "kc")) as c:
        yield c


def ds_body(name="probe", node_selector=None, host_network=False, tolerations=None):
    spec = {"containers": [{"name": "probe", "image": "busybox"}], "hostNetwork": host_network}
    if node_selector:
        spec["nodeSelector"] = node_selector
    if tolerations is not None:
        spec["tolerations"] = tolerations
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {"selector": {"matchLabels": {"app": name}}, "template": {"metadata": {"labels": {"app": name, "role": "probe"}}, "spec": spec}},
    }


def pod_body(name, node=None, **spec):
    spec = {"containers": [{"name": "c", "image": "busybox"}], **spec}
    if node:
        spec["nodeName"] = node
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": "solo"}}, "spec": spec}


def test_namespace_create_and_delete_cascade(srv, api):
    v1 = client.CoreV1Api(api)
    v1.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="doctor-probe")))
    assert v1.read_namespace("doctor-probe").status.phase == "Active"
    v1.create_namespaced_pod("doctor-probe", pod_body("a", "ali1.k3s"))
    client.AppsV1Api(api).create_namespaced_daemon_set("doctor-probe", ds_body())
    wait_until(lambda: len(srv.store.list("pods", "doctor-probe")) == 7, what="ds pods")
    v1.delete_namespace("doctor-probe")
    assert v1.read_namespace("doctor-probe").status.phase == "Terminating"
    with pytest.raises(ApiException) as err:
        v1.create_namespaced_pod("doctor-probe", pod_body("late"))
    assert err.value.status == 403 and "being terminated" in err.value.body
    t0 = time.monotonic()
    wait_until(lambda: srv.store.get("ns", "doctor-probe") is None, what="namespace gone")
    assert time.monotonic() - t0 < 2
    assert srv.store.list("pods", "doctor-probe") == [] and srv.store.list("ds", "doctor-probe") == []
    with pytest.raises(ApiException) as err:
        v1.read_namespace("doctor-probe")
    assert err.value.status == 404
    with pytest.raises(ApiException) as err:
        v1.delete_namespace("kube-system")
    assert err.value.status == 403


def test_create_pod_in_missing_namespace_and_validation(srv, api):
    v1 = client.CoreV1Api(api)
    with pytest.raises(ApiException) as err:
        v1.create_namespaced_pod("nope", pod_body("x"))
    assert err.value.status == 404 and json.loads(err.value.body)["message"] == 'namespaces "nope" not found'
    code, body = http(srv.url + "/api/v1/namespaces/default/pods", "POST", {"metadata": {"name": "bad"}, "spec": {}})
    assert code == 422 and body["reason"] == "Invalid" and "spec.containers" in body["message"]
    v1.create_namespaced_pod("default", pod_body("dup"))
    with pytest.raises(ApiException) as err:
        v1.create_namespaced_pod("default", pod_body("dup"))
    assert err.value.status == 409 and json.loads(err.value.body)["reason"] == "AlreadyExists"


def test_bare_pod_is_scheduled_and_runs(srv, api, hooks):
    v1 = client.CoreV1Api(api)
    created = v1.create_namespaced_pod("default", pod_body("solo", node_selector={"kubernetes.io/hostname": "bd1.k3s"}))
    assert created.status.phase == "Pending"
    pod = wait_until(lambda: (p := v1.read_namespaced_pod("solo", "default")).status.phase == "Running" and p)
    assert pod.spec.node_name == "bd1.k3s"
    assert ipaddress.ip_address(pod.status.pod_ip) in ipaddress.ip_network("10.42.4.0/24")
    assert pod.status.host_ip == "192.168.64.4"
    assert any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions)
    assert hooks.created == ["solo"]
    v1.create_namespaced_pod("default", pod_body("nowhere", node_selector={"no": "such"}))
    pending = wait_until(lambda: (p := srv.store.get("pod", "nowhere", "default"))["status"].get("conditions") and p)
    assert pending["status"]["phase"] == "Pending" and pending["status"]["conditions"][0]["reason"] == "Unschedulable"


def test_pod_list_get_delete_and_field_selectors(srv, api, hooks):
    v1 = client.CoreV1Api(api)
    for i, node in enumerate(["ali1.k3s", "ali1.k3s", "tx1.k3s"]):
        v1.create_namespaced_pod("kube-system", pod_body(f"p{i}", node))
    wait_until(lambda: all(p["status"]["phase"] == "Running" for p in srv.store.list("pods")) and len(hooks.created) == 3)
    on_ali = v1.list_namespaced_pod("kube-system", field_selector="spec.nodeName=ali1.k3s").items
    assert [p.metadata.name for p in on_ali] == ["p0", "p1"]
    assert len({p.status.pod_ip for p in on_ali}) == 2  # next free address for each pod
    assert len(v1.list_pod_for_all_namespaces(field_selector="status.phase=Running").items) == 3
    deleted = v1.delete_namespaced_pod("p2", "kube-system")
    assert deleted.metadata.deletion_timestamp is not None
    wait_until(lambda: srv.store.get("pod", "p2", "kube-system") is None, what="graceful deletion done")
    assert hooks.deleted == ["p2"]
    _, res = http(srv.url + "/api/v1/namespaces/kube-system/pods?labelSelector=app%3Dsolo", "DELETE")
    assert res["kind"] == "PodList" and sorted(p["metadata"]["name"] for p in res["items"]) == ["p0", "p1"]
    wait_until(lambda: srv.store.list("pods") == [], what="collection deleted")
    assert sorted(hooks.deleted) == ["p0", "p1", "p2"]


def test_daemonset_controller_runs_one_pod_per_node(srv, api, hooks):
    apps, v1 = client.AppsV1Api(api), client.CoreV1Api(api)
    ds = apps.create_namespaced_daemon_set("kube-system", ds_body())
    pods = wait_until(
        lambda: (
            (ps := v1.list_namespaced_pod("kube-system", label_selector="app=probe").items)
            and len(ps) == 6
            and all(p.status.phase == "Running" for p in ps)
            and ps
        ),
        what="6 running pods",
    )
    assert sorted(p.spec.node_name for p in pods) == NODES
    nodes = {n["metadata"]["name"]: n for n in srv.store.objects("Node")}
    for p in pods:
        assert p.metadata.name.startswith("probe-") and len(p.metadata.name) == len("probe-") + 5
        ref = p.metadata.owner_references[0]
        assert (ref.kind, ref.name, ref.uid, ref.controller) == ("DaemonSet", "probe", ds.metadata.uid, True)
        assert p.metadata.labels["role"] == "probe"
        if p.spec.node_name == "hw1.k3s":
            assert p.status.pod_ip == "10.99.0.7"  # chosen by pod_hooks.on_pod_created
        else:
            cidr = ipaddress.ip_network(nodes[p.spec.node_name]["spec"]["podCIDR"])
            assert ipaddress.ip_address(p.status.pod_ip) in cidr and p.status.pod_ip != str(next(cidr.hosts()))
    st = wait_until(lambda: (d := apps.read_namespaced_daemon_set("probe", "kube-system")).status.number_ready == 6 and d.status)
    assert (st.desired_number_scheduled, st.current_number_scheduled, st.number_available) == (6, 6, 6)
    assert sorted(hooks.created) == sorted(p.metadata.name for p in pods)
    # a deleted pod is replaced, as by the real controller
    v1.delete_namespaced_pod(pods[0].metadata.name, "kube-system", grace_period_seconds=0)
    wait_until(lambda: len([p for p in srv.store.list("pods", "kube-system") if p["metadata"]["name"] != pods[0].metadata.name]) == 6)
    # deleting the DaemonSet deletes its pods and calls on_pod_deleted for each
    status = apps.delete_namespaced_daemon_set("probe", "kube-system", propagation_policy="Background")
    assert status["kind"] == "Status" and status["status"] == "Success"  # the client types this as a plain object
    wait_until(lambda: srv.store.list("pods", "kube-system") == [], what="pods gone")
    assert len(hooks.deleted) == 7


def test_daemonset_node_selector_host_network_and_taints(srv, api):
    srv.store.patch("Node", "ty1.k3s", {"spec": {"taints": [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]}})
    apps = client.AppsV1Api(api)
    apps.create_namespaced_daemon_set("default", ds_body("hostnet", host_network=True))
    apps.create_namespaced_daemon_set("default", ds_body("picky", node_selector={"kubernetes.io/hostname": "bd2.k3s"}))
    apps.create_namespaced_daemon_set("default", ds_body("tolerant", tolerations=[{"operator": "Exists"}]))

    def pods(app):
        return [p for p in srv.store.list("pods", "default", label_selector=f"app={app}") if p["status"]["phase"] == "Running"]

    wait_until(lambda: len(pods("hostnet")) == 5 and len(pods("picky")) == 1 and len(pods("tolerant")) == 6)
    ips = {p["spec"]["nodeName"]: p["status"]["podIP"] for p in pods("hostnet")}
    assert "ty1.k3s" not in ips and ips["ali1.k3s"] == "172.21.143.136" and ips["bd1.k3s"] == "192.168.64.4"
    assert pods("picky")[0]["spec"]["nodeName"] == "bd2.k3s"
    wait_until(lambda: srv.store.get("ds", "hostnet", "default")["status"]["desiredNumberScheduled"] == 5)
    # a new node gets a pod; a relabelled node loses one
    srv.store.create(
        {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": "new.k3s", "labels": {"kubernetes.io/hostname": "new.k3s"}},
            "spec": {"podCIDR": "10.42.9.0/24"},
        }
    )
    wait_until(lambda: len(pods("tolerant")) == 7)
    srv.store.patch("Node", "bd2.k3s", {"metadata": {"labels": {"kubernetes.io/hostname": "renamed"}}})
    wait_until(lambda: pods("picky") == [] and srv.store.get("ds", "picky", "default")["status"]["desiredNumberScheduled"] == 0)


def test_daemonset_orphan_and_foreground_deletion(srv, api):
    apps = client.AppsV1Api(api)
    apps.create_namespaced_daemon_set("default", ds_body("orph"))
    wait_until(lambda: len(srv.store.list("pods", "default", label_selector="app=orph")) == 6)
    apps.delete_namespaced_daemon_set("orph", "default", propagation_policy="Orphan")
    time.sleep(0.2)
    left = srv.store.list("pods", "default", label_selector="app=orph")
    assert len(left) == 6 and all("ownerReferences" not in p["metadata"] for p in left)
    apps.create_namespaced_daemon_set("default", ds_body("fg"))
    wait_until(lambda: len(srv.store.list("pods", "default", label_selector="app=fg")) == 6)
    body = apps.delete_namespaced_daemon_set("fg", "default", propagation_policy="Foreground")
    assert body is not None
    wait_until(lambda: srv.store.get("ds", "fg", "default") is None, what="foreground deletion finished")
    assert srv.store.list("pods", "default", label_selector="app=fg") == []


def test_daemonset_validation(srv):
    bad = ds_body("bad")
    bad["spec"]["selector"] = {"matchLabels": {"app": "other"}}
    code, body = http(srv.url + "/apis/apps/v1/namespaces/default/daemonsets", "POST", bad)
    assert code == 422 and "selector" in body["message"]


def test_patch_and_put_nodes(srv, api):
    v1 = client.CoreV1Api(api)
    v1.patch_node("ali1.k3s", {"metadata": {"labels": {"topology.kubernetes.io/region": "eu"}}})
    assert v1.read_node("ali1.k3s").metadata.labels["topology.kubernetes.io/region"] == "eu"
    # merge patch with a null deletes; strategic merge is accepted too
    code, body = http(srv.url + "/api/v1/nodes/ali1.k3s", "PATCH", {"metadata": {"labels": {"topology.kubernetes.io/region": None}}}, headers=MERGE)
    assert code == 200 and "topology.kubernetes.io/region" not in body["metadata"]["labels"]
    code, body = http(
        srv.url + "/api/v1/nodes/ali1.k3s",
        "PATCH",
        [{"op": "add", "path": "/metadata/annotations/x", "value": "1"}],
        headers={"Content-Type": "application/json-patch+json"},
    )
    assert code == 200 and body["metadata"]["annotations"]["x"] == "1"
    # the stored last-seen survives read-modify-write by clients (they see shifted time)
    node = v1.read_node("bd1.k3s")
    node.metadata.labels["rw"] = "yes"
    replaced = v1.replace_node("bd1.k3s", node)
    assert replaced.metadata.labels["rw"] == "yes"
    assert srv.store.get("Node", "bd1.k3s")["metadata"]["annotations"]["kilo.squat.ai/last-seen"] in ("1759999984", "1759999983", "1759999985")
    # optimistic concurrency
    node.metadata.labels["rw"] = "stale"
    with pytest.raises(ApiException) as err:
        v1.replace_node("bd1.k3s", node)
    assert err.value.status == 409 and "the object has been modified" in err.value.body
    # a client writing last-seen = now is served as fresh
    now = int(time.time())
    v1.patch_node("tx1.k3s", {"metadata": {"annotations": {"kilo.squat.ai/last-seen": str(now)}}})
    served = int(v1.read_node("tx1.k3s").metadata.annotations["kilo.squat.ai/last-seen"])
    assert abs(served - now) <= 2
    # the status subresource
    v1.patch_node_status("hw1.k3s", {"status": {"conditions": [{"type": "Ready", "status": "False"}]}})
    assert http(srv.url + "/api/v1/nodes/hw1.k3s", headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"})[1]["rows"][0]["cells"][1] == "NotReady"


def test_peers_create_patch_replace_delete(srv, api):
    co = client.CustomObjectsApi(api)
    args = ("kilo.squat.ai", "v1alpha1", "peers")
    peer = {
        "apiVersion": "kilo.squat.ai/v1alpha1",
        "kind": "Peer",
        "metadata": {"name": "tablet"},
        "spec": {"allowedIPs": ["10.5.0.9/32"], "publicKey": "k" * 43 + "=", "persistentKeepalive": 10},
    }
    created = co.create_cluster_custom_object(*args, peer)
    assert created["metadata"]["uid"] and created["metadata"]["resourceVersion"]
    co.patch_cluster_custom_object(*args, "tablet", {"spec": {"persistentKeepalive": 30}})
    got = co.get_cluster_custom_object(*args, "tablet")
    assert got["spec"]["persistentKeepalive"] == 30 and got["spec"]["allowedIPs"] == ["10.5.0.9/32"]
    got["spec"]["allowedIPs"].append("10.5.0.10/32")
    co.replace_cluster_custom_object(*args, "tablet", got)
    assert srv.store.get("Peer", "tablet")["spec"]["allowedIPs"] == ["10.5.0.9/32", "10.5.0.10/32"]
    gone = co.delete_cluster_custom_object(*args, "tablet")
    assert gone["metadata"]["name"] == "tablet"
    assert [p["metadata"]["name"] for p in co.list_cluster_custom_object(*args)["items"]] == ["laptop", "phone"]
    with pytest.raises(ApiException) as err:
        co.delete_cluster_custom_object(*args, "tablet")
    assert err.value.status == 404


def test_generate_name_and_deletecollection_daemonsets(srv, api):
    code, body = http(srv.url + "/api/v1/namespaces", "POST", {"metadata": {"generateName": "kgctl-doctor-"}})
    assert code == 201 and body["metadata"]["name"].startswith("kgctl-doctor-") and len(body["metadata"]["name"]) == 18
    ns = body["metadata"]["name"]
    apps = client.AppsV1Api(api)
    apps.create_namespaced_daemon_set(ns, ds_body("one"))
    apps.create_namespaced_daemon_set(ns, ds_body("two"))
    wait_until(lambda: len(srv.store.list("pods", ns)) == 12)
    apps.delete_collection_namespaced_daemon_set(ns, label_selector="app=one")
    wait_until(lambda: len(srv.store.list("pods", ns)) == 6 and len(srv.store.list("ds", ns)) == 1)


def test_daemonset_over_many_nodes_converges_quickly():
    # Guards the controllers' coalescing and indexes: a DaemonSet makes O(N) events.
    nodes = [{"apiVersion": "v1", "kind": "Node", "metadata": {"name": f"n{i:03d}"}, "spec": {"podCIDR": f"10.{i // 256}.{i % 256}.0/24"}} for i in range(500)]
    with KubeAPIServer(nodes) as srv:
        t0 = time.monotonic()
        code, _ = http(srv.url + "/apis/apps/v1/namespaces/default/daemonsets", "POST", ds_body("wide"))
        assert code == 201
        wait_until(lambda: srv.store.get("ds", "wide", "default")["status"]["numberReady"] == 500, timeout=20, interval=0.05)
        assert len({p["status"]["podIP"] for p in srv.store.list("pods")}) == 500
        assert http(srv.url + "/apis/apps/v1/namespaces/default/daemonsets/wide", "DELETE")[0] == 200
        wait_until(lambda: not srv.store.list("pods"), timeout=20, interval=0.05)
        assert time.monotonic() - t0 < 10
