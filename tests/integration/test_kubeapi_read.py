"""Read paths of the test API server: fixtures, get/list, selectors, paging, discovery, tables, kubectl."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest
from kubeapi import KubeAPIServer, StatusError, Store, load_fixture
from kubeapi.testing import api_client, http
from kubernetes import client
from kubernetes.client.rest import ApiException

BLOG = Path(__file__).resolve().parents[1] / "compat" / "cases" / "a-blog-6node"  # the repo's copy: a fresh clone has it
NODES = ["ali1.k3s", "bd1.k3s", "bd2.k3s", "hw1.k3s", "tx1.k3s", "ty1.k3s"]
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"

pytestmark = pytest.mark.skipif(not BLOG.is_dir(), reason="compat fixtures not available")


@pytest.fixture(scope="module")
def fixture() -> tuple[list[dict], dict]:
    return load_fixture(BLOG)


@pytest.fixture
def srv(fixture):
    objects, meta = fixture
    with KubeAPIServer(objects, crd=meta["crd"], captured_at=meta["capturedAt"]) as s:
        yield s


@pytest.fixture
def api(srv, tmp_path):
    with api_client(srv.write_kubeconfig(tmp_path / "kubeconfig")) as c:
        yield c


def test_load_fixture(fixture):
    objects, meta = fixture
    assert meta["capturedAt"] == 1760000000 and meta["crd"] is True
    assert sorted(o["metadata"]["name"] for o in objects if o["kind"] == "Node") == NODES
    assert sorted(o["metadata"]["name"] for o in objects if o["kind"] == "Peer") == ["laptop", "phone"]
    # timestamps stay strings (no YAML timestamp resolution)
    assert isinstance(objects[0]["metadata"]["creationTimestamp"], str)


def test_list_and_get_nodes_with_official_client(srv, api):
    v1 = client.CoreV1Api(api)
    nodes = v1.list_node()
    assert [n.metadata.name for n in nodes.items] == NODES
    assert isinstance(nodes.metadata.resource_version, str) and nodes.metadata.resource_version.isdigit()
    node = v1.read_node("ali1.k3s")
    assert node.spec.pod_cidr == "10.42.3.0/24"
    assert node.metadata.annotations["kilo.squat.ai/key"] == "VZ91nHoOXi6EaI2hRSVOVf1T1lQnuOMPsro+O2K2A/k="


def test_list_and_get_peers(srv, api):
    co = client.CustomObjectsApi(api)
    peers = co.list_cluster_custom_object("kilo.squat.ai", "v1alpha1", "peers")
    assert peers["kind"] == "PeerList" and isinstance(peers["metadata"]["resourceVersion"], str)
    assert [p["metadata"]["name"] for p in peers["items"]] == ["laptop", "phone"]
    laptop = co.get_cluster_custom_object("kilo.squat.ai", "v1alpha1", "peers", "laptop")
    assert laptop["spec"]["publicKey"]
    crd = client.ApiextensionsV1Api(api).read_custom_resource_definition("peers.kilo.squat.ai")
    assert crd.spec.group == "kilo.squat.ai"


def test_last_seen_keeps_its_age_on_every_read_path(srv, fixture, api):
    objects, meta = fixture
    ages = {o["metadata"]["name"]: meta["capturedAt"] - int(o["metadata"]["annotations"]["kilo.squat.ai/last-seen"]) for o in objects if o["kind"] == "Node"}
    v1 = client.CoreV1Api(api)
    now = time.time()
    for n in v1.list_node().items:
        served = int(n.metadata.annotations["kilo.squat.ai/last-seen"])
        assert abs((now - served) - ages[n.metadata.name]) <= 2
    served = int(v1.read_node("bd1.k3s").metadata.annotations["kilo.squat.ai/last-seen"])
    assert abs((time.time() - served) - ages["bd1.k3s"]) <= 2
    # the store keeps the captured value
    assert srv.store.get("Node", "bd1.k3s")["metadata"]["annotations"]["kilo.squat.ai/last-seen"] == "1759999984"


def test_from_fixture_takes_crd_and_captured_at_from_meta():
    with KubeAPIServer.from_fixture(BLOG) as srv:
        assert srv.captured_at == 1760000000
        assert http(srv.url + "/apis/kilo.squat.ai/v1alpha1/peers")[0] == 200
    with KubeAPIServer.from_fixture(BLOG, crd=False, captured_at=None) as srv:
        assert srv.captured_at is None and http(srv.url + "/apis/kilo.squat.ai/v1alpha1/peers")[0] == 404
        _, node = http(srv.url + "/api/v1/nodes/bd1.k3s")
        assert node["metadata"]["annotations"]["kilo.squat.ai/last-seen"] == "1759999984"


def test_non_integer_last_seen_is_served_unchanged():
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n", "annotations": {"kilo.squat.ai/last-seen": "garbage"}}}
    with KubeAPIServer([node], captured_at=1000) as srv:
        _, body = http(srv.url + "/api/v1/nodes/n")
        assert body["metadata"]["annotations"]["kilo.squat.ai/last-seen"] == "garbage"


def test_not_found_is_a_proper_status(srv, api):
    with pytest.raises(ApiException) as err:
        client.CoreV1Api(api).read_node("nope")
    assert err.value.status == 404
    code, body = http(srv.url + "/api/v1/nodes/nope")
    assert code == 404
    assert body["kind"] == "Status" and body["reason"] == "NotFound" and body["message"] == 'nodes "nope" not found'
    _, body = http(srv.url + "/apis/kilo.squat.ai/v1alpha1/peers/nope")
    assert body["message"] == 'peers.kilo.squat.ai "nope" not found'
    code, body = http(srv.url + "/api/v1/frobs")
    assert code == 404 and body["reason"] == "NotFound"


def test_label_and_field_selectors(srv, api):
    v1 = client.CoreV1Api(api)

    def names(**kw):
        return [n.metadata.name for n in v1.list_node(**kw).items]

    assert names(label_selector="kubernetes.io/hostname=ali1.k3s") == ["ali1.k3s"]
    assert names(label_selector="kubernetes.io/hostname==ali1.k3s") == ["ali1.k3s"]
    assert names(label_selector="kubernetes.io/hostname!=ali1.k3s") == NODES[1:]
    assert names(label_selector="kubernetes.io/hostname in (bd1.k3s, tx1.k3s)") == ["bd1.k3s", "tx1.k3s"]
    assert names(label_selector="kubernetes.io/hostname notin (bd1.k3s,tx1.k3s)") == ["ali1.k3s", "bd2.k3s", "hw1.k3s", "ty1.k3s"]
    assert names(label_selector="node-role.kubernetes.io/master") == ["ty1.k3s"]
    assert names(label_selector="!node-role.kubernetes.io/master,kubernetes.io/os=linux") == NODES[:-1]
    assert names(field_selector="metadata.name=hw1.k3s") == ["hw1.k3s"]
    assert names(field_selector="metadata.name!=hw1.k3s") == [n for n in NODES if n != "hw1.k3s"]
    with pytest.raises(ApiException) as err:
        v1.list_node(field_selector="spec.frob=1")
    assert err.value.status == 400


def test_paging_follows_continue_and_sees_every_object_once(srv, api):
    for i in range(20):
        srv.store.create({"apiVersion": "v1", "kind": "Node", "metadata": {"name": f"extra-{i:02d}"}})
    v1 = client.CoreV1Api(api)
    srv.requests.clear()
    seen, token, pages, remaining = [], None, 0, []
    while True:
        page = v1.list_node(limit=4, _continue=token)
        pages += 1
        seen += [n.metadata.name for n in page.items]
        remaining.append(page.metadata.remaining_item_count)
        if pages == 2:
            # writes between pages do not disturb the listing: it is consistent at the first page's rv
            srv.store.create({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "aaa-late"}})
            srv.store.delete("Node", "tx1.k3s")
        token = page.metadata._continue
        if not token:
            break
    assert len(seen) == 26 and len(set(seen)) == 26 and seen == sorted(seen)
    assert "tx1.k3s" in seen and "aaa-late" not in seen
    assert pages == 7 and remaining[0] == 22 and remaining[-1] is None
    listed = [r for r in srv.requests if r.path == "/api/v1/nodes"]
    assert len(listed) == 7 and all(r.query["limit"] == "4" for r in listed)
    assert "continue" not in listed[0].query and all("continue" in r.query for r in listed[1:])


def test_paging_with_selector_and_bad_token(srv):
    code, body = http(srv.url + "/api/v1/nodes?limit=2&labelSelector=kubernetes.io/os%3Dlinux")
    assert code == 200 and len(body["items"]) == 2 and body["metadata"]["continue"]
    assert "remainingItemCount" not in body["metadata"]  # unknown with a filter, as in the apiserver
    code, body = http(srv.url + "/api/v1/nodes?limit=2&continue=bm9wZQ")
    assert code == 400 and body["reason"] == "BadRequest"


def test_continue_token_expires_like_a_compacted_etcd():
    store = Store(history=3)
    for i in range(3):
        store.create({"apiVersion": "v1", "kind": "Node", "metadata": {"name": f"n{i}"}})
    rv = store.rv
    assert [o["metadata"]["name"] for o in store.snapshot(store_kind("Node"), at_rv=rv - 1)[1]] == ["n0", "n1"]
    for i in range(3):
        store.patch("Node", "n0", {"metadata": {"labels": {"i": str(i)}}})
    with pytest.raises(StatusError) as err:
        store.snapshot(store_kind("Node"), at_rv=rv - 1)
    assert err.value.code == 410


def store_kind(kind: str):
    from kubeapi import resources

    return resources.lookup(kind)


def test_store_api_is_copy_safe_and_accepts_kind_spellings(srv):
    node = srv.store.get("nodes", "ali1.k3s")
    node["metadata"]["labels"]["mutated"] = "yes"
    assert "mutated" not in srv.store.get("Node", "ali1.k3s")["metadata"]["labels"]
    assert [p["metadata"]["name"] for p in srv.store.objects(kind="peers.kilo.squat.ai")] == ["laptop", "phone"]
    assert [n["metadata"]["name"] for n in srv.store.list("no", label_selector="kubernetes.io/hostname=bd2.k3s")] == ["bd2.k3s"]
    assert {n["metadata"]["name"] for n in srv.store.objects(kind="Namespace")} >= {"default", "kube-system"}


def test_discovery_documents(srv):
    _, version = http(srv.url + "/version")
    assert version["gitVersion"].startswith("v1.")
    _, api = http(srv.url + "/api")
    assert api["versions"] == ["v1"]
    _, core = http(srv.url + "/api/v1")
    assert {"nodes", "pods", "namespaces", "pods/exec"} <= {r["name"] for r in core["resources"]}
    _, groups = http(srv.url + "/apis")
    names = {g["name"] for g in groups["groups"]}
    assert {"apps", "kilo.squat.ai", "apiextensions.k8s.io", "authorization.k8s.io"} <= names
    _, kilo = http(srv.url + "/apis/kilo.squat.ai/v1alpha1")
    assert kilo["resources"][0]["name"] == "peers" and kilo["resources"][0]["namespaced"] is False
    _, apps = http(srv.url + "/apis/apps/v1")
    assert [r["name"] for r in apps["resources"]][:1] == ["daemonsets"]
    _, group = http(srv.url + "/apis/kilo.squat.ai")
    assert group["kind"] == "APIGroup" and group["preferredVersion"]["version"] == "v1alpha1"


def test_crd_absent(fixture, tmp_path):
    objects, _ = fixture
    with KubeAPIServer(objects, crd=False) as srv:
        code, body = http(srv.url + "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/peers.kilo.squat.ai")
        assert code == 404 and body["message"] == 'customresourcedefinitions.apiextensions.k8s.io "peers.kilo.squat.ai" not found'
        code, _ = http(srv.url + "/apis/kilo.squat.ai/v1alpha1/peers")
        assert code == 404
        assert http(srv.url + "/apis/kilo.squat.ai/v1alpha1")[0] == 404
        _, groups = http(srv.url + "/apis")
        assert "kilo.squat.ai" not in {g["name"] for g in groups["groups"]}
        with api_client(srv.write_kubeconfig(tmp_path / "kc")) as api:
            with pytest.raises(ApiException) as err:
                client.CustomObjectsApi(api).list_cluster_custom_object("kilo.squat.ai", "v1alpha1", "peers")
            assert err.value.status == 404
            assert client.CoreV1Api(api).list_node().items  # the rest still works


def test_removing_the_crd_takes_the_peers_api_away(srv):
    assert http(srv.url + "/apis/kilo.squat.ai/v1alpha1/peers")[0] == 200
    srv.store.delete("crd", "peers.kilo.squat.ai")
    assert http(srv.url + "/apis/kilo.squat.ai/v1alpha1/peers")[0] == 404


def test_server_side_tables(srv):
    _, table = http(srv.url + "/api/v1/nodes", headers={"Accept": TABLE})
    assert table["kind"] == "Table"
    assert [c["name"] for c in table["columnDefinitions"] if c["priority"] == 0] == ["Name", "Status", "Roles", "Age", "Version"]
    row = table["rows"][-1]
    assert row["cells"][:3] == ["ty1.k3s", "Ready", "control-plane,master"]
    assert row["object"]["kind"] == "PartialObjectMetadata"
    _, table = http(srv.url + "/apis/kilo.squat.ai/v1alpha1/peers/phone", headers={"Accept": TABLE})
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Age"] and table["rows"][0]["cells"][0] == "phone"
    for path in ("/api/v1/namespaces", "/api/v1/pods", "/apis/apps/v1/daemonsets"):
        code, table = http(srv.url + path, headers={"Accept": TABLE})
        assert code == 200 and table["kind"] == "Table", path


def test_ephemeral_ports_and_clean_stop(fixture):
    objects, _ = fixture
    before = set(threading.enumerate())
    a, b = KubeAPIServer(objects).start(), KubeAPIServer(objects).start()
    assert a.port != b.port and a.url.startswith("http://127.0.0.1:")
    a.stop()
    b.stop()
    assert set(threading.enumerate()) <= before


def _kubectl(args, kubeconfig, home):
    env = dict(os.environ, HOME=str(home))
    env.pop("KUBECONFIG", None)
    return subprocess.run(["kubectl", "--kubeconfig", str(kubeconfig), *args], capture_output=True, text=True, env=env, timeout=60)


needs_kubectl = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not installed")


@needs_kubectl
def test_kubectl_get_nodes_and_peers(srv, tmp_path):
    kc = srv.write_kubeconfig(tmp_path / "kubeconfig")
    r = _kubectl(["get", "nodes"], kc, tmp_path)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]
    assert [ln.split()[0] for ln in lines[1:]] == NODES
    assert lines[-1].split()[1:3] == ["Ready", "control-plane,master"]
    r = _kubectl(["get", "peers"], kc, tmp_path)
    assert r.returncode == 0, r.stderr
    assert [ln.split()[0] for ln in r.stdout.splitlines()] == ["NAME", "laptop", "phone"]
    r = _kubectl(["get", "node", "nope"], kc, tmp_path)
    assert r.returncode != 0 and 'nodes "nope" not found' in r.stderr
