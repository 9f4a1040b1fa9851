"""Snapshots: what ``--snapshot`` reads back, captured from a cluster (or another
snapshot) as one YAML ``v1 List`` of Nodes, Peers, Kilo pods and Kilo's DaemonSet,
with the capture time, what was read, and no secrets.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from kgctl_py import __version__, sources
from kgctl_py.kube.decode import without_lone_surrogates

REDACTED_NOTE = "kgctl-py.squat.ai/redacted"
MASK = "********"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
K3S_NODE_ARGS = "k3s.io/node-args"
K3S_NODE_ENV = "k3s.io/node-env"
# Flag and variable names whose values are credentials (k3s masks some itself, not all).
_SECRET_NAME = re.compile(r"token|secret|password|passwd|datastore-endpoint|private-key|_KEY$|-key$", re.IGNORECASE)


def capture(s: sources.SourceSettings, warn: Callable[[str], None] | None = None) -> dict[str, Any]:
    """The snapshot document: a ``v1 List`` whose metadata records capture time, CRD presence and what was read.

    Readiness is judged as a live command would have at this moment (after the
    lists), or as the snapshot given with --snapshot records.
    """
    objects = sources.load(s, sources.SNAPSHOT, warn=warn)
    items = [_item(o, "v1", "Node") for o in objects.nodes]
    items += [_item(o, "kilo.squat.ai/v1alpha1", "Peer") for o in objects.peers]
    items += [_item(o, "v1", "Pod") for o in objects.pods]
    items += [_item(o, "apps/v1", "DaemonSet") for o in objects.daemonsets]
    return {
        "apiVersion": "v1",
        "kind": "List",
        "metadata": {
            "annotations": {
                sources.CAPTURED_AT: str(objects.now),
                sources.CRD_PRESENT: "true" if objects.crd_present else "false",
                sources.LISTED: ",".join(objects.listed()),
                "kgctl-py.squat.ai/version": __version__,
                **({sources.SERVER_TIME: str(server)} if (server := objects.server_time()) is not None else {}),
            }
        },
        "items": items,
    }


def counts(doc: dict[str, Any]) -> dict[str, int]:
    """How many items of each kind the document holds."""
    out: dict[str, int] = {}
    for item in doc["items"]:
        kind = str(item.get("kind"))
        out[kind] = out.get(kind, 0) + 1
    return out


def _item(obj: dict[str, Any], api_version: str, kind: str) -> dict[str, Any]:
    """A list item as ``kubectl get -o yaml`` shows it: with apiVersion and kind, without secrets."""
    out: dict[str, Any] = {"apiVersion": obj.get("apiVersion") or api_version, "kind": obj.get("kind") or kind}
    out.update((k, v) for k, v in obj.items() if k not in ("apiVersion", "kind"))
    return redact(out)


def redact(obj: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``obj`` without credentials; what was removed is named in an annotation."""
    obj = without_lone_surrogates(obj)
    removed: list[str] = []
    meta = obj.get("metadata")
    if isinstance(meta, dict):
        meta.pop("managedFields", None)
        notes = meta.get("annotations")
        if isinstance(notes, dict):
            # It repeats the whole object as applied, preshared key included.
            if notes.pop(LAST_APPLIED, None) is not None:
                removed.append(f"metadata.annotations[{LAST_APPLIED}]")
            if isinstance(notes.get(K3S_NODE_ARGS), str):
                notes[K3S_NODE_ARGS], hit = _mask_args(notes[K3S_NODE_ARGS])
                removed += [f"metadata.annotations[{K3S_NODE_ARGS}]"] if hit else []
            if isinstance(notes.get(K3S_NODE_ENV), str):
                notes[K3S_NODE_ENV], hit = _mask_env(notes[K3S_NODE_ENV])
                removed += [f"metadata.annotations[{K3S_NODE_ENV}]"] if hit else []
    spec = obj.get("spec")
    if obj.get("kind") == "Peer" and isinstance(spec, dict) and spec.pop("presharedKey", None) is not None:
        removed.append("spec.presharedKey")
    pod_spec, where = (spec, "spec") if obj.get("kind") == "Pod" else (None, "")
    if obj.get("kind") == "DaemonSet" and isinstance(spec, dict) and isinstance(spec.get("template"), dict):
        # The pods' template carries the same literal environment values.
        pod_spec, where = spec["template"].get("spec"), "spec.template.spec"
    if isinstance(pod_spec, dict):
        for field in ("initContainers", "containers", "ephemeralContainers"):
            for container in pod_spec.get(field) or []:
                for env in (container.get("env") or []) if isinstance(container, dict) else []:
                    if isinstance(env, dict) and "value" in env:
                        env["value"] = MASK
                        removed.append(f"{where}.{field}[{container.get('name', '')}].env[{env.get('name', '')}]")
    if removed:
        if not isinstance(obj.get("metadata"), dict):
            obj["metadata"] = {}
        if not isinstance(obj["metadata"].get("annotations"), dict):
            obj["metadata"]["annotations"] = {}
        obj["metadata"]["annotations"][REDACTED_NOTE] = ",".join(removed)
    return obj


def _mask_args(text: str) -> tuple[str, bool]:
    """k3s's node-args (a JSON list of argv): mask the values of credential flags."""
    try:
        args = json.loads(text)
    except (ValueError, RecursionError):  # a nesting bomb is garbage too
        return text, False
    if not isinstance(args, list):
        return text, False
    hit = False
    out: list[Any] = []
    secret_next = False
    for arg in args:
        if secret_next and isinstance(arg, str) and arg != MASK:
            out.append(MASK)
            hit = True
            secret_next = False
            continue
        secret_next = False
        if isinstance(arg, str) and arg.startswith("-"):
            name, eq, value = arg.partition("=")
            if _SECRET_NAME.search(name):
                if eq and value != MASK:
                    arg, hit = f"{name}={MASK}", True
                elif not eq:
                    secret_next = True
        out.append(arg)
    return (json.dumps(out) if hit else text), hit


def _mask_env(text: str) -> tuple[str, bool]:
    """k3s's node-env (a JSON object of K3S_* variables): mask credential values."""
    try:
        env = json.loads(text)
    except (ValueError, RecursionError):  # a nesting bomb is garbage too
        return text, False
    if not isinstance(env, dict):
        return text, False
    hit = False
    for key, value in env.items():
        if _SECRET_NAME.search(str(key)) and value != MASK:
            env[key] = MASK
            hit = True
    return (json.dumps(env) if hit else text), hit


def dump_json(doc: dict[str, Any]) -> str:
    """The snapshot as JSON, one item per line: valid YAML too (ASCII only, so no
    YAML line break hides in a string), and it loads ten times faster than YAML."""
    items = doc.get("items") or []
    head = json.dumps({k: v for k, v in doc.items() if k != "items"}, ensure_ascii=True, default=_json_value)[:-1]
    lines = [json.dumps(item, ensure_ascii=True, default=_json_value, separators=(",", ":")) for item in items]
    return head + ', "items": [\n' + ",\n".join(lines) + "\n]}\n"


def _json_value(value: Any) -> Any:
    """What a YAML input may hold beyond JSON: timestamps, binary, sets."""
    import base64
    import datetime

    if isinstance(value, (datetime.datetime, datetime.date)):
        text = value.isoformat()
        return text[:-6] + "Z" if text.endswith("+00:00") else text
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=str)
    raise TypeError(f"cannot write {type(value).__name__} to a snapshot")


def dump_yaml(doc: dict[str, Any]) -> str:
    import yaml

    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    return str(yaml.dump(doc, Dumper=dumper, sort_keys=False, default_flow_style=False, allow_unicode=True, width=1 << 16))
