"""K3s's record of how it started a node: the ``k3s.io/node-args`` annotation.

K3s stores its argv as a JSON list (``["server", "--tls-san", "1.2.3.4"]``);
flags may also be written ``--flag=value`` and some take comma lists.
"""

from __future__ import annotations

import json
from typing import Any

from kgctl_py.mesh import annotations as ann

CONTROL_PLANE_LABELS = ("node-role.kubernetes.io/control-plane", "node-role.kubernetes.io/master")


def node_args(obj: dict[str, Any]) -> list[str] | None:
    """The node's K3s argv, or None when absent or not a JSON list of strings."""
    notes = (obj.get("metadata") or {}).get("annotations") or {}
    text = notes.get(ann.K3S_NODE_ARGS) if isinstance(notes, dict) else None
    if not isinstance(text, str):
        return None
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):  # a nesting bomb is garbage too
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return None
    return value


def raw_flag_values(args: list[str], flag: str) -> list[str]:
    """Every value given to ``flag`` (``--flag V`` or ``--flag=V``), as given."""
    values: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == flag and i + 1 < len(args):
            values.append(args[i + 1])
            i += 2
            continue
        if arg.startswith(flag + "="):
            values.append(arg[len(flag) + 1 :])
        i += 1
    return values


def flag_values(args: list[str], flag: str) -> list[str]:
    """Every value given to ``flag``, in either spelling, comma lists split."""
    values = raw_flag_values(args, flag)
    return [part.strip() for v in values for part in v.split(",") if part.strip()]


def is_server(obj: dict[str, Any], args: list[str] | None) -> bool:
    if args:
        return args[0] == "server"
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return isinstance(labels, dict) and any(labels.get(k) == "true" for k in CONTROL_PLANE_LABELS)


def external_ips(obj: dict[str, Any], args: list[str] | None) -> list[str]:
    """What the node declares as its external IP: annotation, address, or flag."""
    found: list[str] = []
    notes = (obj.get("metadata") or {}).get("annotations") or {}
    if isinstance(notes, dict) and isinstance(notes.get(ann.K3S_EXTERNAL_IP), str):
        found += [p.strip() for p in notes[ann.K3S_EXTERNAL_IP].split(",") if p.strip()]
    for address in (obj.get("status") or {}).get("addresses") or []:
        if isinstance(address, dict) and address.get("type") == "ExternalIP" and isinstance(address.get("address"), str):
            found.append(address["address"])
    found += flag_values(args or [], "--node-external-ip")
    # Keep the first mention of each: the order says where it came from.
    return list(dict.fromkeys(found))
