"""The live-cluster source: every kubeconfig auth method, KUBECONFIG merging,
contexts, paging and the CRD check, against the project's API server over
real HTTP(S)."""

from __future__ import annotations

import os
import pathlib

import pytest
import yaml
from clirun import run
from kubeapi import KubeAPIServer, load_fixture

BLOG = pathlib.Path(__file__).parents[1] / "compat" / "cases" / "a-blog-6node"
GOLDEN_GRAPH = (BLOG / "000-graph.stdout").read_bytes()


@pytest.fixture(scope="module")
def blog():
    return load_fixture(BLOG)


def _graph(kubeconfig: str, *extra: str) -> bytes:
    result = run(["--kubeconfig", kubeconfig, *extra, "graph"])
    assert result.code == 0, result.stderr
    return result.stdout


def test_https_with_bearer_token(blog, tmp_path):
    objects, meta = blog
    with KubeAPIServer(objects, tls=True, token="s3cr3t-token", captured_at=meta["capturedAt"]) as srv:
        assert _graph(srv.write_kubeconfig(tmp_path / "k", embed_certs=True)) == GOLDEN_GRAPH
        assert all(r.path for r in srv.requests)


def test_https_with_client_certificate(blog, tmp_path):
    objects, meta = blog
    with KubeAPIServer(objects, tls=True, token="unused", client_ca=True, captured_at=meta["capturedAt"]) as srv:
        cert = srv.issue_client_cert("admin")
        assert _graph(srv.write_kubeconfig(tmp_path / "k", client_cert=cert, token="")) == GOLDEN_GRAPH


def test_exec_plugin_credentials(blog, tmp_path):
    objects, meta = blog
    with KubeAPIServer(objects, tls=True, token="from-plugin", captured_at=meta["capturedAt"]) as srv:
        kubeconfig = srv.write_kubeconfig(tmp_path / "k", exec_command=srv.exec_plugin("from-plugin"))
        assert _graph(kubeconfig) == GOLDEN_GRAPH


def test_wrong_token_is_denied_with_exit_4(blog, tmp_path):
    objects, meta = blog
    with KubeAPIServer(objects, tls=True, token="right", captured_at=meta["capturedAt"]) as srv:
        result = run(["--kubeconfig", srv.write_kubeconfig(tmp_path / "k", token="wrong"), "graph"])
    assert result.code == 4
    assert b"401" in result.stderr and b"wrong" not in result.stderr
    assert result.stderr.count(b"\n") == 1


def test_kubeconfig_list_is_merged_and_context_selects(blog, tmp_path, monkeypatch):
    objects, meta = blog
    with KubeAPIServer(objects, captured_at=meta["capturedAt"]) as srv:
        good = yaml.safe_load(open(srv.write_kubeconfig(tmp_path / "good", context="blog")))
        broken = {
            "apiVersion": "v1",
            "kind": "Config",
            "current-context": "dead",
            "clusters": [{"name": "dead", "cluster": {"server": "http://127.0.0.1:9"}}],
            "users": [{"name": "dead", "user": {}}],
            "contexts": [{"name": "dead", "context": {"cluster": "dead", "user": "dead"}}],
        }
        good.pop("current-context", None)
        (tmp_path / "a").write_text(yaml.safe_dump(broken))
        (tmp_path / "b").write_text(yaml.safe_dump(good))
        monkeypatch.setenv("KUBECONFIG", os.pathsep.join([str(tmp_path / "a"), str(tmp_path / "b")]))
        # The first file's current context wins, and it points at a closed port.
        assert run(["graph"]).code == 3
        # --context reaches the second file's context.
        result = run(["--context", "blog", "graph"])
        assert result.code == 0 and result.stdout == GOLDEN_GRAPH
        assert run(["--context", "nope", "graph"]).code == 2


def test_lists_are_paged(blog, tmp_path):
    objects, meta = blog
    template = next(o for o in objects if o["kind"] == "Node")
    many = [o for o in objects if o["kind"] != "Node"]
    for i in range(1203):
        clone = yaml.safe_load(yaml.safe_dump(template))
        clone["metadata"]["name"] = f"extra-{i:04d}"
        clone["metadata"]["annotations"]["kilo.squat.ai/last-seen"] = "1"  # stale: not in the mesh
        many.append(clone)
    many.extend(o for o in objects if o["kind"] == "Node")
    with KubeAPIServer(many, captured_at=meta["capturedAt"]) as srv:
        srv.list_page_cap = 500  # a server that pages although we ask for the whole list
        out = _graph(srv.write_kubeconfig(tmp_path / "k"))
        node_lists = [r for r in srv.requests if r.path == "/api/v1/nodes"]
    assert out == GOLDEN_GRAPH
    assert len(node_lists) == 3  # 1209 nodes in pages of 500
    assert sum("continue" in r.query for r in node_lists) == 2


def test_missing_crd_is_kgctls_error(blog, tmp_path):
    objects, meta = blog
    with KubeAPIServer(objects, crd=False, captured_at=meta["capturedAt"]) as srv:
        result = run(["--kubeconfig", srv.write_kubeconfig(tmp_path / "k"), "showconf", "node", "ty1.k3s"])
    assert result.code == 5
    assert result.stderr.decode().startswith("failed to initialize peer backend: CRD is not present")


def test_the_kube_layer_raises_typed_errors_and_one_mapping_gives_exit_codes(blog, tmp_path):
    """Library callers branch on the error's type and status; the CLI's exit code comes from one table."""
    from kgctl_py import errors
    from kgctl_py.kube import resources
    from kgctl_py.kube.client import Client
    from kgctl_py.kube.errors import Denied, NotFound, Unreachable
    from kgctl_py.kube.kubeconfig import resolve

    objects, meta = blog
    with KubeAPIServer(objects, tls=True, token="right", captured_at=meta["capturedAt"]) as srv:
        wrong = Client(resolve(srv.write_kubeconfig(tmp_path / "wrong", token="wrong")), timeout=5)
        with pytest.raises(Denied) as denied:
            resources.NODES.list(wrong)
        wrong.close()
        right = Client(resolve(srv.write_kubeconfig(tmp_path / "right")), timeout=5)
        with pytest.raises(NotFound) as missing:
            resources.PEERS.get(right, "no-such-peer")
        assert len(resources.NODES.list(right)) == 6
        right.close()
        url, gone_config = srv.url, srv.write_kubeconfig(tmp_path / "gone", embed_certs=True)
    assert (denied.value.status, errors.exit_code_for(denied.value)) == (401, errors.ExitCode.API_DENIED)
    assert (missing.value.status, errors.exit_code_for(missing.value)) == (404, errors.ExitCode.API_ERROR)
    gone = Client(resolve(gone_config), timeout=5)
    with pytest.raises(Unreachable) as unreachable:
        resources.NODES.list(gone)
    assert unreachable.value.status == 0 and errors.exit_code_for(unreachable.value) == errors.ExitCode.API_UNREACHABLE
    assert url in unreachable.value.message


def test_live_source_records_the_api_servers_clock(blog, tmp_path):
    """Readiness is still judged by this machine's clock; the server's Date is kept for a skew check."""
    import time

    from kgctl_py import sources
    from kgctl_py.cli import Settings

    objects, meta = blog
    with KubeAPIServer(objects, captured_at=meta["capturedAt"]) as srv:
        s = Settings(kubeconfig=srv.write_kubeconfig(tmp_path / "k"))
        before = int(time.time())
        got = sources.load(s)
        after = int(time.time())
        fixed = sources.load(Settings(kubeconfig=s.kubeconfig, now=1234))
    assert len(got.nodes) == 6 and before <= got.now <= after
    server = got.server_time()
    assert server is not None and before - 1 <= server <= after + 1
    assert fixed.now == 1234 and fixed.server_time() is not None
    assert sources.ClusterObjects([], [], server_date="not a date").server_time() is None
    snap = tmp_path / "snap.json"
    snap.write_text('{"apiVersion": "v1", "kind": "List", "items": []}')
    assert sources.load(Settings(snapshot=str(snap))).server_time() is None
