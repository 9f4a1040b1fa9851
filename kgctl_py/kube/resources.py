"""The resource kinds kgctl-py reads and writes, each API path in one place (as kr8s does),
and the client interface the readers need.
"""

from __future__ import annotations

from typing import Any, Protocol

from kgctl_py.record import record


class Api(Protocol):
    """What readers need of a client: ``kgctl_py.kube.client.Client`` is one."""

    def get(self, path: str, params: dict[str, Any] | None = None, what: str = "") -> Any: ...

    def list(self, path: str, params: dict[str, Any] | None = None, what: str = "") -> list[dict[str, Any]]: ...

    def request(self, method: str, path: str, params: dict[str, Any] | None = None, body: Any = None, what: str = "", *, verb: str | None = None) -> Any: ...

    def close(self) -> None: ...


@record(frozen=True)
class Resource:
    kind: str
    api_version: str  # "v1" or "group/version"
    plural: str
    # Names the collection in errors ("cannot list nodes: ...").
    what: str
    namespaced: bool = False
    # Lists only what this label selector matches.
    selector: str = ""

    def path(self, namespace: str | None = None) -> str:
        """The collection: cluster-wide, or in ``namespace`` for a namespaced kind."""
        base = "/api/v1" if self.api_version == "v1" else f"/apis/{self.api_version}"
        where = f"/namespaces/{namespace}" if namespace and self.namespaced else ""
        return f"{base}{where}/{self.plural}"

    def item(self, name: str, namespace: str | None = None) -> str:
        return f"{self.path(namespace)}/{name}"

    def params(self) -> dict[str, Any] | None:
        return {"labelSelector": self.selector} if self.selector else None

    def list(self, client: Api, namespace: str | None = None, selector: str = "") -> list[dict[str, Any]]:
        """Every item, or those ``selector`` (instead of the record's own) matches."""
        params = {"labelSelector": selector} if selector else self.params()
        return client.list(self.path(namespace), params, what=self.what)

    def get(self, client: Api, name: str, namespace: str | None = None, what: str = "") -> Any:
        return client.get(self.item(name, namespace), what=what or f"{self.kind.lower()} {name}")

    def create(self, client: Api, body: Any, namespace: str | None = None, what: str = "") -> Any:
        """POST ``body`` to the collection."""
        return client.request("POST", self.path(namespace), body=body, what=what)

    def delete(self, client: Api, name: str, namespace: str | None = None, params: dict[str, Any] | None = None, what: str = "") -> Any:
        return client.request("DELETE", self.item(name, namespace), params, what=what)


NODES = Resource("Node", "v1", "nodes", "nodes")
PEERS = Resource("Peer", "kilo.squat.ai/v1alpha1", "peers", "peers.kilo.squat.ai")
CRDS = Resource("CustomResourceDefinition", "apiextensions.k8s.io/v1", "customresourcedefinitions", "customresourcedefinitions")
# Kilo's pods, in every namespace.
KILO_PODS = Resource("Pod", "v1", "pods", "pods", namespaced=True, selector="app.kubernetes.io/name=kilo")
PODS = Resource("Pod", "v1", "pods", "pods", namespaced=True)
DAEMONSETS = Resource("DaemonSet", "apps/v1", "daemonsets", "daemonsets", namespaced=True)
NAMESPACES = Resource("Namespace", "v1", "namespaces", "namespaces")
SERVICES = Resource("Service", "v1", "services", "services", namespaced=True)
# Create-only: the API server answers a review and keeps nothing.
SELF_SUBJECT_ACCESS_REVIEWS = Resource("SelfSubjectAccessReview", "authorization.k8s.io/v1", "selfsubjectaccessreviews", "selfsubjectaccessreviews")

PEER_CRD_NAME = "peers.kilo.squat.ai"
PEER_CRD_WHAT = "customresourcedefinition peers.kilo.squat.ai"
# Kilo's DaemonSet as its manifests install it.
KILO_DAEMONSET = ("kube-system", "kilo")
