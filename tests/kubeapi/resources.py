"""The resource types this server knows, and the discovery documents for them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

KILO_GROUP = "kilo.squat.ai"
KILO_VERSION = "v1alpha1"
PEER_CRD_NAME = "peers.kilo.squat.ai"

ALL_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]


@dataclass(frozen=True)
class ResourceType:
    """One served resource (``group/version/plural``) and how the API treats it."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    verbs: tuple[str, ...] = tuple(ALL_VERBS)
    # Writes to the main resource keep the stored status (the real apiserver does
    # this for built-in types with a /status subresource).
    status_subresource: bool = False
    # DELETE answers with the object (pods, namespaces, custom resources) rather than a Status.
    delete_returns_object: bool = False
    subresources: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def key(self) -> str:
        """Store key: ``plural`` for the core group, else ``plural.group``."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def list_kind(self) -> str:
        return self.kind + "List"


NODES = ResourceType("", "v1", "nodes", "Node", False, ("no",), status_subresource=True, subresources=("status",))
NAMESPACES = ResourceType(
    "",
    "v1",
    "namespaces",
    "Namespace",
    False,
    ("ns",),
    verbs=("create", "delete", "get", "list", "patch", "update", "watch"),
    status_subresource=True,
    delete_returns_object=True,
    subresources=("status", "finalize"),
)
PODS = ResourceType(
    "",
    "v1",
    "pods",
    "Pod",
    True,
    ("po",),
    status_subresource=True,
    delete_returns_object=True,
    subresources=("status", "exec"),
    categories=("all",),
)
DAEMONSETS = ResourceType(
    "apps",
    "v1",
    "daemonsets",
    "DaemonSet",
    True,
    ("ds",),
    status_subresource=True,
    subresources=("status",),
    categories=("all",),
)
SERVICES = ResourceType(
    "",
    "v1",
    "services",
    "Service",
    True,
    ("svc",),
    status_subresource=True,
    subresources=("status",),
    categories=("all",),
)
PEERS = ResourceType(KILO_GROUP, KILO_VERSION, "peers", "Peer", False, delete_returns_object=True)
CRDS = ResourceType(
    "apiextensions.k8s.io",
    "v1",
    "customresourcedefinitions",
    "CustomResourceDefinition",
    False,
    ("crd", "crds"),
    status_subresource=True,
    subresources=("status",),
)
SSARS = ResourceType("authorization.k8s.io", "v1", "selfsubjectaccessreviews", "SelfSubjectAccessReview", False, verbs=("create",))

RESOURCES: tuple[ResourceType, ...] = (NODES, NAMESPACES, PODS, SERVICES, DAEMONSETS, PEERS, CRDS, SSARS)
STORED: tuple[ResourceType, ...] = (NODES, NAMESPACES, PODS, SERVICES, DAEMONSETS, PEERS, CRDS)


def find(group: str, version: str, plural: str) -> ResourceType | None:
    for r in RESOURCES:
        if (r.group, r.version, r.plural) == (group, version, plural):
            return r
    return None


def lookup(kind: str) -> ResourceType:
    """Resolve what a test calls a kind: ``Node``, ``nodes``, ``node``, ``no``,
    ``daemonsets.apps`` or ``peers.kilo.squat.ai`` (case-insensitive)."""
    want = kind.lower()
    for r in STORED:
        names = {r.kind.lower(), r.plural, r.singular, r.key, *r.short_names}
        if want in names:
            return r
    raise KeyError(f"unknown kind {kind!r}")


def for_object(obj: dict[str, Any]) -> ResourceType:
    """The resource type of a Kubernetes object dict (by ``kind`` and ``apiVersion`` group)."""
    kind = obj.get("kind")
    if not isinstance(kind, str):
        raise KeyError("object has no kind")
    group = str(obj.get("apiVersion", "")).rpartition("/")[0]
    for r in STORED:
        if r.kind == kind and (not obj.get("apiVersion") or r.group == group):
            return r
    raise KeyError(f"unknown kind {kind!r} ({obj.get('apiVersion')})")


# --- discovery ---------------------------------------------------------------


def _resource_entries(types: list[ResourceType]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for r in types:
        entry: dict[str, Any] = {
            "name": r.plural,
            "singularName": r.singular,
            "namespaced": r.namespaced,
            "kind": r.kind,
            "verbs": list(r.verbs),
        }
        if r.short_names:
            entry["shortNames"] = list(r.short_names)
        if r.categories:
            entry["categories"] = list(r.categories)
        out.append(entry)
        for sub in r.subresources:
            verbs = ["create", "get"] if sub == "exec" else ["get", "patch", "update"]
            kind = "PodExecOptions" if sub == "exec" else r.kind
            out.append({"name": f"{r.plural}/{sub}", "singularName": "", "namespaced": r.namespaced, "kind": kind, "verbs": verbs})
    return out


def group_versions(crd: bool) -> dict[str, list[ResourceType]]:
    """``groupVersion`` -> served resource types (the peers API only while its CRD exists)."""
    out: dict[str, list[ResourceType]] = {}
    for r in RESOURCES:
        if r is PEERS and not crd:
            continue
        out.setdefault(r.api_version, []).append(r)
    return out


def api_resource_list(group_version: str, types: list[ResourceType]) -> dict[str, Any]:
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": _resource_entries(types)}


def api_group(name: str, version: str) -> dict[str, Any]:
    gv = {"groupVersion": f"{name}/{version}", "version": version}
    return {"name": name, "versions": [gv], "preferredVersion": gv}


def api_group_list(crd: bool) -> dict[str, Any]:
    groups = []
    for gv in group_versions(crd):
        if "/" in gv:
            name, version = gv.split("/", 1)
            groups.append(api_group(name, version))
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


VERSION_INFO: dict[str, str] = {
    "major": "1",
    "minor": "32",
    "gitVersion": "v1.32.4",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2025-01-01T00:00:00Z",
    "goVersion": "go1.23.0",
    "compiler": "gc",
    "platform": "linux/amd64",
}


def peer_crd() -> dict[str, Any]:
    """The ``peers.kilo.squat.ai`` CustomResourceDefinition as Kilo ships it (schema trimmed)."""
    names = {"kind": "Peer", "listKind": "PeerList", "plural": "peers", "singular": "peer"}
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": PEER_CRD_NAME, "uid": str(uuid.uuid5(uuid.NAMESPACE_URL, PEER_CRD_NAME))},
        "spec": {
            "group": KILO_GROUP,
            "names": names,
            "scope": "Cluster",
            "versions": [
                {
                    "name": KILO_VERSION,
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
                }
            ],
        },
        "status": {
            "acceptedNames": names,
            "storedVersions": [KILO_VERSION],
            "conditions": [{"type": "Established", "status": "True", "reason": "InitialNamesAccepted"}],
        },
    }
