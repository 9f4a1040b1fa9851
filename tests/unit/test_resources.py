"""The resource records build the real Kubernetes API paths, and they are the
only place that does: no API path is written out by hand anywhere else."""

from __future__ import annotations

import ast
import pathlib
from typing import Any

import pytest

from kgctl_py.kube import resources as R

PACKAGE = pathlib.Path(R.__file__).resolve().parents[1]

# (record, namespace, collection, item "x") as the Kubernetes API serves them.
PATHS = [
    (R.NODES, None, "/api/v1/nodes", "/api/v1/nodes/x"),
    (R.NODES, "kube-system", "/api/v1/nodes", "/api/v1/nodes/x"),  # cluster-scoped: the namespace is ignored
    (R.NAMESPACES, None, "/api/v1/namespaces", "/api/v1/namespaces/x"),
    (R.PEERS, None, "/apis/kilo.squat.ai/v1alpha1/peers", "/apis/kilo.squat.ai/v1alpha1/peers/x"),
    (R.CRDS, None, "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/x"),
    (
        R.SELF_SUBJECT_ACCESS_REVIEWS,
        None,
        "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
        "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews/x",
    ),
    (R.PODS, None, "/api/v1/pods", "/api/v1/pods/x"),  # every namespace
    (R.PODS, "kube-system", "/api/v1/namespaces/kube-system/pods", "/api/v1/namespaces/kube-system/pods/x"),
    (R.KILO_PODS, "kube-system", "/api/v1/namespaces/kube-system/pods", "/api/v1/namespaces/kube-system/pods/x"),
    (R.SERVICES, "default", "/api/v1/namespaces/default/services", "/api/v1/namespaces/default/services/x"),
    (R.DAEMONSETS, None, "/apis/apps/v1/daemonsets", "/apis/apps/v1/daemonsets/x"),
    (R.DAEMONSETS, "kube-system", "/apis/apps/v1/namespaces/kube-system/daemonsets", "/apis/apps/v1/namespaces/kube-system/daemonsets/x"),
]


@pytest.mark.parametrize(("record", "namespace", "collection", "item"), PATHS, ids=lambda v: getattr(v, "plural", None))
def test_paths_are_the_api_servers(record: R.Resource, namespace: str | None, collection: str, item: str) -> None:
    assert record.path(namespace) == collection
    assert record.item("x", namespace) == item


def test_every_record_is_checked() -> None:
    records = {name for name, value in vars(R).items() if isinstance(value, R.Resource)}
    checked = {name for name, value in vars(R).items() if any(value is p[0] for p in PATHS)}
    assert records == checked


class Recorder:
    """An ``Api`` that answers nothing and keeps each call."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def get(self, path: str, params: dict[str, Any] | None = None, what: str = "") -> Any:
        self.calls.append(("GET", path, params, what))
        return {}

    def list(self, path: str, params: dict[str, Any] | None = None, what: str = "") -> list[dict[str, Any]]:
        self.calls.append(("LIST", path, params, what))
        return []

    def request(self, method: str, path: str, params: dict[str, Any] | None = None, body: Any = None, what: str = "", *, verb: str | None = None) -> Any:
        self.calls.append((method, path, params, body, what))
        return {}

    def close(self) -> None:
        pass


def test_the_calls_name_their_collection_and_item() -> None:
    api = Recorder()
    R.KILO_PODS.list(api)
    R.PODS.list(api, "ns", selector="a=b")
    R.SERVICES.get(api, "kubernetes", "default")
    R.DAEMONSETS.create(api, {"kind": "DaemonSet"}, "ns", what="daemonset d")
    R.NAMESPACES.delete(api, "ns", params={"propagationPolicy": "Background"}, what="namespace ns")
    assert api.calls == [
        ("LIST", "/api/v1/pods", {"labelSelector": "app.kubernetes.io/name=kilo"}, "pods"),
        ("LIST", "/api/v1/namespaces/ns/pods", {"labelSelector": "a=b"}, "pods"),
        ("GET", "/api/v1/namespaces/default/services/kubernetes", None, "service kubernetes"),
        ("POST", "/apis/apps/v1/namespaces/ns/daemonsets", None, {"kind": "DaemonSet"}, "daemonset d"),
        ("DELETE", "/api/v1/namespaces/ns", {"propagationPolicy": "Background"}, None, "namespace ns"),
    ]


def hand_written_paths(source: str) -> list[int]:
    """The lines of string literals (f-string parts too) that spell out an API path."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
            if text.startswith(("/api/", "/apis/")) or "/namespaces/" in text:
                lines.append(node.lineno)
    return sorted(set(lines))


def test_the_scan_finds_a_hand_written_path() -> None:
    old = 'SSAR = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"\n\ndef f(ns):\n    return f"/api/v1/namespaces/{ns}/pods"\n'
    assert hand_written_paths(old) == [1, 4]
    assert hand_written_paths('x = f"{base}/namespaces/{ns}"\n') == [1]
    assert hand_written_paths('R.PODS.list(client, ns, selector="a=b")\n') == []


def test_no_api_path_outside_the_records() -> None:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path == PACKAGE / "kube" / "resources.py":
            continue
        found += [f"{path.relative_to(PACKAGE.parent)}:{line}" for line in hand_written_paths(path.read_text(encoding="utf-8"))]
    assert not found, "API paths written out by hand (use kgctl_py/kube/resources.py): " + ", ".join(found)
