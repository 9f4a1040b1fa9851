"""PATCH bodies: JSON merge patch (RFC 7386), strategic merge (approximated) and JSON patch (RFC 6902)."""

from __future__ import annotations

import copy
from typing import Any

from .errors import StatusError

MERGE = "application/merge-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
JSON_PATCH = "application/json-patch+json"
APPLY = "application/apply-patch+yaml"


def merge_patch(target: Any, patch: Any, *, strategic: bool = False) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        # Strategic-merge directives ($patch, $setElementOrder/..., $retainKeys)
        # have no JSON-merge meaning; dropping them keeps kubectl's patches usable.
        if strategic and key.startswith("$"):
            continue
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value, strategic=strategic)
    return result


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise StatusError.bad_request(f"invalid JSON pointer {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _parent(doc: Any, parts: list[str]) -> Any:
    cur = doc
    for p in parts[:-1]:
        if isinstance(cur, list):
            cur = cur[int(p)]
        elif isinstance(cur, dict) and p in cur:
            cur = cur[p]
        else:
            raise StatusError(422, f"doc is missing path: /{'/'.join(parts)}", "Invalid")
    return cur


def _get(doc: Any, parts: list[str]) -> Any:
    if not parts:
        return doc
    parent = _parent(doc, parts)
    try:
        return parent[int(parts[-1])] if isinstance(parent, list) else parent[parts[-1]]
    except (KeyError, IndexError, ValueError):
        raise StatusError(422, f"doc is missing path: /{'/'.join(parts)}", "Invalid") from None


def _remove(doc: Any, parts: list[str]) -> Any:
    parent = _parent(doc, parts)
    try:
        if isinstance(parent, list):
            return parent.pop(int(parts[-1]))
        return parent.pop(parts[-1])
    except (KeyError, IndexError, ValueError):
        raise StatusError(422, f"doc is missing path: /{'/'.join(parts)}", "Invalid") from None


def _add(doc: Any, parts: list[str], value: Any, *, replace: bool = False) -> Any:
    if not parts:
        return value
    parent = _parent(doc, parts)
    last = parts[-1]
    if isinstance(parent, list):
        if replace:
            parent[int(last)] = value
        elif last == "-":
            parent.append(value)
        else:
            parent.insert(int(last), value)
    elif isinstance(parent, dict):
        if replace and last not in parent:
            raise StatusError(422, f"doc is missing key: /{'/'.join(parts)}", "Invalid")
        parent[last] = value
    else:
        raise StatusError(422, f"cannot add at /{'/'.join(parts)}", "Invalid")
    return doc


def json_patch(target: Any, ops: Any) -> Any:
    if not isinstance(ops, list):
        raise StatusError.bad_request("json patch must be a list of operations")
    doc = copy.deepcopy(target)
    for op in ops:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise StatusError.bad_request(f"invalid json patch operation {op!r}")
        kind, parts = op["op"], _pointer(op["path"])
        if kind == "add":
            doc = _add(doc, parts, copy.deepcopy(op.get("value")))
        elif kind == "remove":
            _remove(doc, parts)
        elif kind == "replace":
            doc = _add(doc, parts, copy.deepcopy(op.get("value")), replace=True)
        elif kind in ("move", "copy"):
            src = _pointer(op.get("from", ""))
            value = _remove(doc, src) if kind == "move" else copy.deepcopy(_get(doc, src))
            doc = _add(doc, parts, value)
        elif kind == "test":
            if _get(doc, parts) != op.get("value"):
                raise StatusError(422, f"testing value /{'/'.join(parts)} failed", "Invalid")
        else:
            raise StatusError.bad_request(f"unknown json patch operation {kind!r}")
    return doc


def apply_patch(content_type: str, target: dict[str, Any], body: Any) -> dict[str, Any]:
    ctype = content_type.split(";", 1)[0].strip().lower()
    if ctype == JSON_PATCH:
        result = json_patch(target, body)
    elif ctype in (MERGE, STRATEGIC):
        if not isinstance(body, dict):
            raise StatusError.bad_request("merge patch body must be a JSON object")
        result = merge_patch(target, body, strategic=ctype == STRATEGIC)
    else:
        raise StatusError(415, f"the body of the request was in an unknown format - accepted media types include: {JSON_PATCH}, {MERGE}, {STRATEGIC}")
    if not isinstance(result, dict):
        raise StatusError.bad_request("patch result is not an object")
    return result
