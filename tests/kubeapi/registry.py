"""Write semantics of the API (what the apiserver's registries do on top of storage):
defaulting, namespace life-cycle checks, status subresources, finalizers, graceful pod
deletion and delete propagation. Shared by the HTTP handlers and the controllers."""

from __future__ import annotations

import copy
import random
import uuid
from typing import Any

from . import resources as R
from .errors import StatusError
from .resources import ResourceType
from .selectors import match_label_selector_object
from .store import Store, now_rfc3339

Obj = dict[str, Any]

PROTECTED_NAMESPACES = ("default", "kube-system", "kube-public")
DEFAULT_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
FOREGROUND = "foregroundDeletion"
# Kubernetes' utilrand alphabet for generated name suffixes (no vowels, no look-alikes).
_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def random_suffix(n: int = 5) -> str:
    return "".join(random.choice(_ALPHABET) for _ in range(n))


def namespace_object(name: str) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": {"kubernetes.io/metadata.name": name}},
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Active"},
    }


def _require_containers(kind: str, name: str, spec: dict[str, Any], where: str) -> None:
    containers = spec.get("containers")
    if not containers or not isinstance(containers, list):
        raise StatusError.invalid(kind, name, f"{where}.containers: Required value")
    for i, c in enumerate(containers):
        if not isinstance(c, dict) or not c.get("name"):
            raise StatusError.invalid(kind, name, f"{where}.containers[{i}].name: Required value")
        if not c.get("image"):
            raise StatusError.invalid(kind, name, f"{where}.containers[{i}].image: Required value")


def owner_uids(obj: Obj) -> list[str]:
    return [ref.get("uid", "") for ref in (obj.get("metadata") or {}).get("ownerReferences") or []]


class Registry:
    def __init__(self, store: Store):
        self.store = store

    # --- create ---------------------------------------------------------------------

    def create(self, rtype: ResourceType, namespace: str | None, body: Obj) -> Obj:
        if not isinstance(body, dict):
            raise StatusError.bad_request("the body of the request must be a JSON object")
        obj = copy.deepcopy(body)
        if obj.get("kind") not in (None, rtype.kind):
            raise StatusError.bad_request(
                f"the API version in the data ({obj.get('apiVersion')}) / kind ({obj.get('kind')}) does not match the request ({rtype.api_version} {rtype.kind})"
            )
        obj["apiVersion"], obj["kind"] = rtype.api_version, rtype.kind
        md = obj.setdefault("metadata", {})
        if rtype.namespaced:
            if md.get("namespace") and md["namespace"] != namespace:
                raise StatusError.bad_request("the namespace of the provided object does not match the namespace sent on the request")
            md["namespace"] = namespace
            self._check_namespace_open(rtype, namespace or "", md.get("name") or md.get("generateName", ""))
        # Server-owned metadata is always set by the server on create.
        for field in ("resourceVersion", "uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation"):
            md.pop(field, None)
        md["uid"] = str(uuid.uuid4())
        md["creationTimestamp"] = now_rfc3339()
        self._default(rtype, obj)
        if not md.get("name") and md.get("generateName"):
            for _ in range(20):
                md["name"] = md["generateName"] + random_suffix()
                if self.store.ref(rtype, md["name"], namespace) is None:
                    break
        if not md.get("name"):
            raise StatusError.invalid(rtype.kind, "", "metadata.name: Required value: name or generateName is required")
        return self.store.put_new(obj)

    def _check_namespace_open(self, rtype: ResourceType, namespace: str, name: str) -> None:
        ns = self.store.ref(R.NAMESPACES, namespace)
        if ns is None:
            raise StatusError.not_found("", "namespaces", namespace)
        if ns["metadata"].get("deletionTimestamp"):
            raise StatusError(
                403,
                f'{rtype.plural} "{name}" is forbidden: unable to create new content in namespace {namespace} because it is being terminated',
                details={"name": name, "kind": rtype.plural},
            )

    def _default(self, rtype: ResourceType, obj: Obj) -> None:
        if rtype is R.NAMESPACES:
            name = obj["metadata"].get("name", "")
            obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = name
            obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
            obj["status"] = {"phase": "Active"}
        elif rtype is R.PODS:
            spec = obj.setdefault("spec", {})
            _require_containers("Pod", obj["metadata"].get("name") or obj["metadata"].get("generateName", ""), spec, "spec")
            spec.setdefault("restartPolicy", "Always")
            spec.setdefault("schedulerName", "default-scheduler")
            spec.setdefault("terminationGracePeriodSeconds", 30)
            obj["status"] = {"phase": "Pending", "qosClass": "BestEffort"}
        elif rtype is R.DAEMONSETS:
            spec = obj.setdefault("spec", {})
            tmpl_labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
            selector = spec.get("selector")
            name = obj["metadata"].get("name", "")
            if not selector:
                raise StatusError.invalid("DaemonSet.apps", name, "spec.selector: Required value")
            _require_containers("DaemonSet.apps", name, (spec.get("template") or {}).get("spec") or {}, "spec.template.spec")
            if not match_label_selector_object(selector, tmpl_labels):
                raise StatusError.invalid(
                    "DaemonSet.apps",
                    name,
                    f"spec.template.metadata.labels: Invalid value: {tmpl_labels!r}: `selector` does not match template `labels`",
                )
            spec.setdefault("updateStrategy", {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}})
            spec.setdefault("revisionHistoryLimit", 10)
            obj["status"] = {"currentNumberScheduled": 0, "desiredNumberScheduled": 0, "numberMisscheduled": 0, "numberReady": 0}

    # --- update ---------------------------------------------------------------------

    def update(self, rtype: ResourceType, namespace: str | None, name: str, body: Obj, subresource: str = "") -> Obj:
        """PUT semantics (also the last step of PATCH): optimistic concurrency on
        ``metadata.resourceVersion``, status kept or changed per subresource."""
        if not isinstance(body, dict):
            raise StatusError.bad_request("the body of the request must be a JSON object")
        cur = self.store.ref(rtype, name, namespace)
        if cur is None:
            raise StatusError.not_found(rtype.group, rtype.plural, name)
        obj = copy.deepcopy(body)
        md = obj.setdefault("metadata", {})
        if md.get("name", name) != name:
            raise StatusError.bad_request(f"the name of the object ({md.get('name')}) does not match the name on the URL ({name})")
        md["name"] = name
        if rtype.namespaced:
            md["namespace"] = cur["metadata"]["namespace"]
        obj["apiVersion"], obj["kind"] = rtype.api_version, rtype.kind
        if subresource == "status":
            status_rv = md.get("resourceVersion")
            obj = {**copy.deepcopy(cur), "status": obj.get("status")}
            if status_rv:
                obj["metadata"]["resourceVersion"] = status_rv
        elif rtype.status_subresource:
            if "status" in cur:
                obj["status"] = copy.deepcopy(cur["status"])
            else:
                obj.pop("status", None)
        # deletionTimestamp can only be set by DELETE.
        for field in ("deletionTimestamp", "deletionGracePeriodSeconds"):
            if field in cur["metadata"]:
                md[field] = cur["metadata"][field]
            else:
                md.pop(field, None)
        new = self.store.replace(obj, check_rv=True)
        self._finish_if_finalized(rtype, new)
        return new

    def _finish_if_finalized(self, rtype: ResourceType, obj: Obj) -> None:
        md = obj["metadata"]
        if not md.get("deletionTimestamp") or md.get("finalizers") or rtype is R.NAMESPACES:
            return
        if rtype is R.PODS and (obj.get("spec") or {}).get("nodeName"):
            return  # the kubelet finishes bound pods
        self.store.remove(rtype, md["name"], md.get("namespace"))

    # --- delete ---------------------------------------------------------------------

    def delete(
        self,
        rtype: ResourceType,
        namespace: str | None,
        name: str,
        *,
        propagation: str | None = None,
        grace: int | None = None,
        preconditions: dict[str, Any] | None = None,
    ) -> tuple[Obj, bool]:
        """Delete like the apiserver; returns ``(object, gone)`` where ``gone`` says it was removed
        right away (else it now has a deletionTimestamp and a controller finishes the job)."""
        cur = self.store.ref(rtype, name, namespace)
        if cur is None:
            raise StatusError.not_found(rtype.group, rtype.plural, name)
        md = cur["metadata"]
        pre = preconditions or {}
        if (pre.get("uid") and pre["uid"] != md.get("uid")) or (pre.get("resourceVersion") and pre["resourceVersion"] != md.get("resourceVersion")):
            raise StatusError.conflict(rtype.group, rtype.plural, name)
        if propagation not in (None, "Orphan", "Background", "Foreground"):
            raise StatusError.bad_request(f"propagationPolicy: Unsupported value: {propagation!r}")

        if rtype is R.NAMESPACES:
            if name in PROTECTED_NAMESPACES:
                raise StatusError(403, f'namespaces "{name}" is forbidden: this namespace may not be deleted', details={"name": name, "kind": "namespaces"})
            if md.get("deletionTimestamp"):
                return cur, False
            obj = copy.deepcopy(cur)
            obj["metadata"]["deletionTimestamp"] = now_rfc3339()
            obj["status"] = {**(obj.get("status") or {}), "phase": "Terminating"}
            return self.store.replace(obj), False

        if propagation == "Orphan":
            self._orphan_dependents(md["uid"])
        if md.get("deletionTimestamp"):
            return cur, False  # already on its way out
        finalizers = list(md.get("finalizers") or [])
        if propagation == "Foreground" and self.dependents(md["uid"]):
            finalizers.append(FOREGROUND)
        graceful = rtype is R.PODS and bool((cur.get("spec") or {}).get("nodeName")) and grace != 0
        if finalizers or graceful:
            obj = copy.deepcopy(cur)
            obj["metadata"]["deletionTimestamp"] = now_rfc3339()
            if finalizers:
                obj["metadata"]["finalizers"] = finalizers
            if graceful:
                period = grace if grace is not None else (cur.get("spec") or {}).get("terminationGracePeriodSeconds", 30)
                obj["metadata"]["deletionGracePeriodSeconds"] = period
            return self.store.replace(obj), False
        return self.store.remove(rtype, name, namespace), True

    def dependents(self, uid: str) -> list[tuple[ResourceType, Obj]]:
        return self.store.dependents(uid)

    def _orphan_dependents(self, uid: str) -> None:
        for _, dep in self.dependents(uid):
            obj = copy.deepcopy(dep)
            obj["metadata"]["ownerReferences"] = [r for r in obj["metadata"]["ownerReferences"] if r.get("uid") != uid]
            if not obj["metadata"]["ownerReferences"]:
                del obj["metadata"]["ownerReferences"]
            self.store.replace(obj)

    def remove_finalizer(self, rtype: ResourceType, obj: Obj, finalizer: str) -> None:
        new = copy.deepcopy(obj)
        new["metadata"]["finalizers"] = [f for f in new["metadata"].get("finalizers") or [] if f != finalizer]
        if not new["metadata"]["finalizers"]:
            del new["metadata"]["finalizers"]
        self._finish_if_finalized(rtype, self.store.replace(new))
