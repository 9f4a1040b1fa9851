"""How lists are read: ``resourceVersion=0`` without a limit, as client-go's
informers (and so kgctl) read them, served from the API server's watch cache;
paging still works against a server that pages anyway.  Real HTTP against the
project's API server, which models the cost of etcd reads."""

from __future__ import annotations

import copy
import pathlib
import time

import pytest
from clirun import run
from kubeapi import KubeAPIServer, load_fixture

from kgctl_py.kube.client import Client
from kgctl_py.kube.kubeconfig import resolve

BLOG = pathlib.Path(__file__).resolve().parents[1] / "compat" / "cases" / "a-blog-6node"
GOLDEN_GRAPH = (BLOG / "000-graph.stdout").read_bytes()
NODES = "/api/v1/nodes"
PEERS = "/apis/kilo.squat.ai/v1alpha1/peers"


@pytest.fixture(scope="module")
def blog():
    return load_fixture(BLOG)


def _with_stale_nodes(objects: list[dict], count: int) -> list[dict]:
    """The blog cluster plus ``count`` nodes that are not in the mesh (last seen long ago)."""
    template = next(o for o in objects if o["kind"] == "Node")
    extra = []
    for i in range(count):
        clone = copy.deepcopy(template)
        clone["metadata"]["name"] = f"extra-{i:04d}"
        clone["metadata"]["annotations"]["kilo.squat.ai/last-seen"] = "1"
        extra.append(clone)
    return [*objects, *extra]


def _lists(srv: KubeAPIServer, path: str) -> list[dict[str, str]]:
    return [r.query for r in srv.requests if r.method == "GET" and r.path == path]


def test_graph_lists_from_the_watch_cache_in_one_request(blog, tmp_path):
    objects, meta = blog
    with KubeAPIServer(_with_stale_nodes(objects, 1203), tls=True, token="t0k", captured_at=meta["capturedAt"]) as srv:
        result = run(["--kubeconfig", srv.write_kubeconfig(tmp_path / "k"), "graph"])
        assert result.code == 0, result.stderr
        nodes, peers = _lists(srv, NODES), _lists(srv, PEERS)
        stats = dict(srv.read_stats)
    assert result.stdout == GOLDEN_GRAPH
    # 1209 nodes in one answer: no limit, no continue, any version the cache has.
    assert nodes == [{"resourceVersion": "0"}]
    assert peers == [{"resourceVersion": "0"}]
    # Both lists came from the cache; only the CRD check read etcd.
    assert stats == {"cache": 2, "etcd": 1, "etcd_items": 1}


def test_selector_is_kept_beside_the_resource_version(blog, tmp_path):
    objects, meta = blog
    pods = [
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": f"kilo-{i}", "namespace": "kube-system", "labels": {"app.kubernetes.io/name": "kilo" if i % 2 else "other"}},
            "spec": {"containers": [{"name": "kilo", "image": "kilo"}], "nodeName": "ty1.k3s"},
        }
        for i in range(6)
    ]
    with KubeAPIServer([*objects, *pods], captured_at=meta["capturedAt"]) as srv:
        client = Client(resolve(srv.write_kubeconfig(tmp_path / "k")))
        try:
            got = client.list("/api/v1/pods", {"labelSelector": "app.kubernetes.io/name=kilo"}, what="pods")
        finally:
            client.close()
        seen = _lists(srv, "/api/v1/pods")
    assert sorted(p["metadata"]["name"] for p in got) == ["kilo-1", "kilo-3", "kilo-5"]
    assert seen == [{"labelSelector": "app.kubernetes.io/name=kilo", "resourceVersion": "0"}]


def test_server_without_a_watch_cache_answers_from_etcd_in_one_request(blog, tmp_path):
    objects, meta = blog
    with KubeAPIServer(_with_stale_nodes(objects, 600), captured_at=meta["capturedAt"]) as srv:
        srv.watch_cache = False  # like --watch-cache=false: resourceVersion=0 is read from etcd too
        result = run(["--kubeconfig", srv.write_kubeconfig(tmp_path / "k"), "graph"])
        nodes, stats = _lists(srv, NODES), dict(srv.read_stats)
    assert result.code == 0 and result.stdout == GOLDEN_GRAPH
    assert nodes == [{"resourceVersion": "0"}]
    # Without a limit etcd is read once per list: 606 nodes, the CRD, the 2 peers.
    assert stats == {"cache": 0, "etcd": 3, "etcd_items": 606 + 1 + 2}


def test_continue_from_a_server_that_pages_anyway_is_followed_without_the_version(blog, tmp_path):
    objects, meta = blog
    with KubeAPIServer(_with_stale_nodes(objects, 1203), captured_at=meta["capturedAt"]) as srv:
        srv.list_page_cap = 500
        result = run(["--kubeconfig", srv.write_kubeconfig(tmp_path / "k"), "graph"])
        nodes = _lists(srv, NODES)
    assert result.code == 0 and result.stdout == GOLDEN_GRAPH
    assert len(nodes) == 3  # 1209 nodes in pages of 500
    assert nodes[0] == {"resourceVersion": "0"}
    # A continue token carries its version; the apiserver refuses another beside it.
    assert all(set(q) == {"continue"} and q["continue"] for q in nodes[1:])
    assert nodes[1]["continue"] != nodes[2]["continue"]


def test_paging_from_etcd_pays_the_modelled_cost_and_the_watch_cache_none(blog, tmp_path):
    """The cost the server models: what made paging slower than kgctl on a real cluster."""
    objects, meta = blog
    with KubeAPIServer(_with_stale_nodes(objects, 994), captured_at=meta["capturedAt"]) as srv:
        srv.etcd_request_cost, srv.etcd_item_cost = 0.002, 0.0002  # 1000 nodes: 0.2 s from etcd
        client = Client(resolve(srv.write_kubeconfig(tmp_path / "k")))
        try:
            cached = client.list(NODES, what="nodes")
            start = time.perf_counter()
            paged = client.list(NODES, {"resourceVersion": "", "limit": 500}, what="nodes")
            from_etcd = time.perf_counter() - start
        finally:
            client.close()
        stats = dict(srv.read_stats)
    assert [n["metadata"]["name"] for n in cached] == [n["metadata"]["name"] for n in paged]
    assert len(cached) == 1000
    assert stats == {"cache": 1, "etcd": 2, "etcd_items": 501 + 500}
    # The etcd path slept its modelled cost; the cache path paid none (read_stats).  Wall
    # times are not compared: on a loaded machine parsing alone can take longer than 0.2 s.
    assert from_etcd >= 0.2 + 2 * 0.002
