"""Fields the real apiserver always serialises.

Go structs encode non-``omitempty`` fields even when empty, so clients (the official
Python client validates them) expect e.g. every ``status.nodeInfo`` key on a Node.
Fixtures often omit them; the store fills them in on every write, as a Go round-trip would.
"""

from __future__ import annotations

from typing import Any

from . import resources as R
from .resources import ResourceType

NODE_INFO_FIELDS = (
    "machineID",
    "systemUUID",
    "bootID",
    "kernelVersion",
    "osImage",
    "containerRuntimeVersion",
    "kubeletVersion",
    "kubeProxyVersion",
    "operatingSystem",
    "architecture",
)
DS_STATUS_FIELDS = ("currentNumberScheduled", "numberMisscheduled", "desiredNumberScheduled", "numberReady")


def _dict(parent: dict[str, Any], key: str) -> dict[str, Any]:
    value = parent.get(key)
    if not isinstance(value, dict):
        value = parent[key] = {}
    return value


def apply(rtype: ResourceType, obj: dict[str, Any]) -> None:
    """Fill Go's always-present fields into ``obj`` (a fresh dict about to be stored)."""
    if rtype is R.NODES:
        status = _dict(obj, "status")
        info = _dict(status, "nodeInfo")
        for field in NODE_INFO_FIELDS:
            info.setdefault(field, "")
        kubelet = _dict(_dict(status, "daemonEndpoints"), "kubeletEndpoint")
        kubelet.setdefault("Port", 0)
    elif rtype is R.DAEMONSETS:
        status = _dict(obj, "status")
        for field in DS_STATUS_FIELDS:
            status.setdefault(field, 0)
    elif rtype is R.PODS:
        pod_status = obj.get("status")
        if isinstance(pod_status, dict):
            for key in ("containerStatuses", "initContainerStatuses"):
                for cs in pod_status.get(key) or []:
                    if isinstance(cs, dict):
                        for field, empty in (("name", ""), ("ready", False), ("restartCount", 0), ("image", ""), ("imageID", "")):
                            cs.setdefault(field, empty)
