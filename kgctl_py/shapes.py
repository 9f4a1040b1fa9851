"""Raw Kubernetes objects in the shape code expects, whatever a reader handed over.

A snapshot (or a broken API server) may give ``metadata: "x"``, ``status: []``
or ``conditions: {a: 1}``. Code that reads raw objects goes through ``node``,
``peer`` and ``pod`` once at its input boundary, and can then trust that
every container along the paths below is of its declared type: a container
of the wrong type becomes an empty one, list items of the wrong type are
dropped. Scalars are left alone (their checks judge them).
"""

from __future__ import annotations

from typing import Any

# A schema is a dict (the value must be a dict; listed keys are shaped by their
# own schema) or a one-item list (the value must be a list of that schema).
Schema = dict[str, Any] | list[Any]

_META: dict[str, Any] = {"annotations": {}, "labels": {}, "ownerReferences": [{}]}
_CONDITIONS: list[Any] = [{}]

NODE: dict[str, Any] = {
    "metadata": _META,
    "spec": {"taints": [{}]},
    "status": {"addresses": [{}], "conditions": _CONDITIONS, "nodeInfo": {}, "capacity": {}, "allocatable": {}, "daemonEndpoints": {}},
}
PEER: dict[str, Any] = {
    "metadata": _META,
    "spec": {"allowedIPs": [], "endpoint": {"dnsOrIP": {}}},
}
_CONTAINER: dict[str, Any] = {"env": [{}], "ports": [{}]}
_STATUS: dict[str, Any] = {"state": {"waiting": {}, "running": {}, "terminated": {}}, "lastState": {"waiting": {}, "running": {}, "terminated": {}}}
POD: dict[str, Any] = {
    "metadata": _META,
    "spec": {"containers": [_CONTAINER], "initContainers": [_CONTAINER], "tolerations": [{}]},
    "status": {"conditions": _CONDITIONS, "containerStatuses": [_STATUS], "initContainerStatuses": [_STATUS]},
}


def shape(value: Any, schema: Any) -> Any:
    """A copy of ``value`` that matches ``schema``'s containers (``value`` itself when it already does)."""
    if isinstance(schema, dict):
        if not isinstance(value, dict):
            return {}
        out = value
        for key, sub in schema.items():
            if key in value:
                fixed = shape(value[key], sub)
                if fixed is not value[key]:
                    if out is value:
                        out = dict(value)
                    out[key] = fixed
        return out
    if isinstance(schema, list):
        if not isinstance(value, list):
            return []
        if not schema:
            return value
        item = schema[0]
        want = dict if isinstance(item, dict) else item
        fixed_items = [shape(v, item) if isinstance(item, dict) else v for v in value if isinstance(v, want)]
        same = len(fixed_items) == len(value) and all(a is b for a, b in zip(fixed_items, value))
        return value if same else fixed_items
    return value


def node(obj: Any) -> dict[str, Any]:
    out: dict[str, Any] = shape(obj, NODE)
    return out


def peer(obj: Any) -> dict[str, Any]:
    out: dict[str, Any] = shape(obj, PEER)
    return out


def pod(obj: Any) -> dict[str, Any]:
    out: dict[str, Any] = shape(obj, POD)
    return out
