"""Doctor's test fixtures: the healthy cluster, its broken variants, and the
helpers that turn them into objects, snapshots or a test API server."""

from __future__ import annotations

import copy
import os
import pathlib
from typing import Any

import yaml

HERE = pathlib.Path(__file__).resolve().parent
CAPTURED_AT = 1760000000


def healthy() -> dict[str, Any]:
    return yaml.safe_load((HERE / "healthy.yaml").read_text())


def cases() -> list[dict[str, Any]]:
    return yaml.safe_load((HERE / "cases.yaml").read_text())


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


def apply_case(doc: dict[str, Any], case: dict[str, Any]) -> dict[str, Any]:
    """The healthy List with a case's patches applied."""
    doc = copy.deepcopy(doc)
    items = []
    for item in doc["items"]:
        name = item["metadata"]["name"]
        section = {"Node": "nodes", "Peer": "peers", "Pod": "pods", "DaemonSet": "daemonsets"}[item["kind"]]
        patches = case.get(section) or {}
        if name in patches:
            if patches[name] is None:
                continue
            item = merge_patch(item, patches[name])
        items.append(item)
    items += copy.deepcopy(case.get("addPeers") or [])
    doc["items"] = items
    if case.get("crd") is False:
        doc["metadata"]["annotations"]["kgctl-py.squat.ai/peer-crd"] = "false"
    return doc


def split(doc: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    kinds: dict[str, list[dict[str, Any]]] = {"Node": [], "Peer": [], "Pod": [], "DaemonSet": []}
    for item in doc["items"]:
        kinds[item["kind"]].append(item)
    return kinds["Node"], kinds["Peer"], kinds["Pod"]


def daemonsets(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [i for i in doc["items"] if i["kind"] == "DaemonSet"]


def write(doc: dict[str, Any], path: os.PathLike[str] | str) -> str:
    pathlib.Path(path).write_text(yaml.safe_dump(doc, sort_keys=False))
    return str(path)


def scaled(n: int, locations: int | None = None) -> list[dict[str, Any]]:
    """n ready nodes cloned from the healthy fixture (its locations in turn, or
    ``locations`` locations loc00, loc01, … in turn), plus its Peers."""
    nodes, peers, _ = split(healthy())
    out = []
    for i in range(n):
        base = copy.deepcopy(nodes[i % len(nodes)])
        base["metadata"]["name"] = f"{base['metadata']['name']}-{i}"
        base["metadata"]["annotations"].pop("kilo.squat.ai/leader", None)
        if locations:
            base["metadata"]["annotations"]["kilo.squat.ai/location"] = f"loc{i % locations:02d}"
        base["spec"]["podCIDR"] = f"10.{42 + i // 256}.{i % 256}.0/24"
        base["spec"]["podCIDRs"] = [base["spec"]["podCIDR"]]
        out.append(base)
    return out + peers
