"""Where cluster objects come from: the live API, or a snapshot file.

Both give the same ``ClusterObjects``; the core never knows which it got.
"""

from __future__ import annotations

import json
import re
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from kgctl_py.errors import CliError, ExitCode
from kgctl_py.mesh import annotations as ann
from kgctl_py.mesh.annotations import parse_go_int64

NODES = "/api/v1/nodes"
PEERS = "/apis/kilo.squat.ai/v1alpha1/peers"
PEER_CRD = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/peers.kilo.squat.ai"
KILO_PODS = "/api/v1/pods"
KILO_POD_SELECTOR = "app.kubernetes.io/name=kilo"
# Written by ``kgctl-py snapshot`` into the List's metadata.
CAPTURED_AT = "kgctl-py.squat.ai/captured-at"
CRD_PRESENT = "kgctl-py.squat.ai/peer-crd"
# "true" when the snapshot captured the Kilo DaemonSets (none found is then none, not unknown).
DAEMONSETS_CAPTURED = "kgctl-py.squat.ai/daemonsets"
# The API server's clock (its HTTP Date) when the snapshot was taken, next to captured-at (ours).
SERVER_TIME = "kgctl-py.squat.ai/server-time"
KILO_NAMESPACE = "kube-system"


def daemonsets_path(namespace: str = KILO_NAMESPACE) -> str:
    return f"/apis/apps/v1/namespaces/{namespace}/daemonsets"


@dataclass
class ClusterObjects:
    nodes: list[dict[str, Any]]
    peers: list[dict[str, Any]]
    pods: list[dict[str, Any]] = field(default_factory=list)
    crd_present: bool = True
    # The time readiness is judged at (Unix seconds).
    now: int = 0
    source: str = ""
    # The Kilo DaemonSets; None when not captured, with the reason in daemonsets_error.
    daemonsets: list[dict[str, Any]] | None = None
    daemonsets_error: str = ""
    # The API server's clock (its HTTP Date, Unix seconds) and this machine's, when read
    # (live, or as a snapshot recorded them at capture).
    server_now: int | None = None
    local_now: int | None = None


def crd_missing_error(detail: str) -> CliError:
    return CliError(f"failed to initialize peer backend: CRD is not present: {detail}", ExitCode.API_ERROR)


def fetch(client: Any, *, with_pods: bool = False, pods_optional: bool = False, warn: Any = None, with_daemonsets: bool = False) -> ClusterObjects:
    """Nodes, Peers (when the Peer CRD exists) and, if asked, the Kilo pods.

    A missing CRD is recorded, not raised: kgctl's commands raise it
    (``from_cluster``), doctor and ``snapshot`` report it.  With
    ``pods_optional`` a 403 on pods is passed to ``warn`` and yields no pods.
    """
    from kgctl_py.kube.client import ApiError

    nodes = client.list(NODES, what="nodes")
    try:
        client.get(PEER_CRD, what="customresourcedefinition peers.kilo.squat.ai")
        crd = True
    except ApiError as err:
        if err.status != 404:
            raise
        crd = False
    peers = client.list(PEERS, what="peers.kilo.squat.ai") if crd else []
    pods: list[dict[str, Any]] = []
    if with_pods:
        try:
            pods = client.list(KILO_PODS, {"labelSelector": KILO_POD_SELECTOR}, what="pods")
        except ApiError as err:
            if not (pods_optional and err.status == 403):
                raise
            if warn is not None:
                warn(err.message)
    objects = ClusterObjects(nodes, peers, pods, crd, int(time.time()), client.auth.server)
    if with_daemonsets:
        objects.daemonsets, objects.daemonsets_error = fetch_daemonsets(client)
    objects.server_now = server_time(getattr(client, "last_date", None))
    return objects


def fetch_daemonsets(client: Any, namespace: str = KILO_NAMESPACE) -> tuple[list[dict[str, Any]] | None, str]:
    """The Kilo DaemonSets, or None and why they could not be read (403/404 are not fatal)."""
    from kgctl_py.kube.client import ApiError

    try:
        return client.list(daemonsets_path(namespace), {"labelSelector": KILO_POD_SELECTOR}, what="daemonsets.apps"), ""
    except ApiError as err:
        if err.status not in (403, 404):
            raise
        why = "forbidden" if err.status == 403 else "not served"
        return None, f"cannot list daemonsets.apps in {namespace} ({why}); check with: kubectl auth can-i list daemonsets.apps -n {namespace}"


def server_time(date: str | None) -> int | None:
    """An HTTP Date header as Unix seconds, or None."""
    if not date:
        return None
    import email.utils

    try:
        return int(email.utils.parsedate_to_datetime(date).timestamp())
    except (TypeError, ValueError, OverflowError):
        return None


def from_cluster(kubeconfig: str | None, context: str | None, timeout: float, need_peers: bool = True, with_pods: bool = False) -> ClusterObjects:
    """What kgctl reads: the nodes, and the peers behind kgctl's CRD check."""
    from kgctl_py.kube.client import Client
    from kgctl_py.kube.kubeconfig import resolve

    client = Client(resolve(kubeconfig, context), timeout=timeout)
    try:
        objects = fetch(client, with_pods=with_pods)
    finally:
        client.close()
    if need_peers and not objects.crd_present:
        raise crd_missing_error('customresourcedefinitions.apiextensions.k8s.io "peers.kilo.squat.ai" not found')
    return objects


# A \uD800-\uDFFF escape: JSON and YAML decode it to a lone surrogate, which
# cannot be printed as UTF-8.  Go's decoder turns those into U+FFFD; so do we.
_SURROGATE_ESCAPE = re.compile(rb"\\[uU](?:0000)?[dD][89a-fA-F]")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def replace_lone_surrogates(obj: Any, raw: bytes) -> Any:
    """``obj`` decoded from ``raw``, with lone surrogates replaced (cheap when ``raw`` has none)."""
    if not _SURROGATE_ESCAPE.search(raw):
        return obj
    return _replace(obj)


def without_lone_surrogates(obj: Any) -> Any:
    """A copy where lone surrogates (valid in JSON, not in UTF-8) become U+FFFD."""
    return _replace(obj)


def _replace(obj: Any) -> Any:
    if isinstance(obj, str):
        return _LONE_SURROGATE.sub("\ufffd", obj)
    if isinstance(obj, list):
        return [_replace(v) for v in obj]
    if isinstance(obj, dict):
        return {_replace(k): _replace(v) for k, v in obj.items()}
    return obj


def _parse_snapshot_text(text: str, name: str) -> Any:
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        try:
            return json.loads(text)
        except ValueError as err:
            raise CliError(f"cannot read snapshot {name}: invalid JSON: {err}", ExitCode.USAGE) from None
    import yaml

    try:
        return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(err, "problem", None) or "not valid YAML"
        raise CliError(f"cannot read snapshot {name}: invalid YAML{where}: {problem}", ExitCode.USAGE) from None


# A 5000-node dump is about 15 MiB; this only stops /dev/zero and the like.
MAX_SNAPSHOT_BYTES = 512 << 20


def _read_bounded(f: Any, name: str) -> bytes:
    """The file's bytes, giving up early on binary data or an endless stream."""
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = f.read(1 << 20)
        if not chunk:
            return b"".join(chunks)
        if b"\x00" in chunk:
            raise CliError(f"cannot read snapshot {name}: it is a binary file, not YAML or JSON", ExitCode.USAGE)
        size += len(chunk)
        if size > MAX_SNAPSHOT_BYTES:
            raise CliError(f"cannot read snapshot {name}: it is larger than {MAX_SNAPSHOT_BYTES >> 20} MiB", ExitCode.USAGE)
        chunks.append(chunk)


def read_snapshot(path: str, now: int | None = None) -> ClusterObjects:
    """Read a ``kubectl get nodes,peers -o yaml|json`` dump (``-`` is stdin).

    Readiness is judged at ``now`` if given, else at the capture time the file
    records, else at the newest ``last-seen`` in the file: a dump shows the
    cluster as it was when the freshest node last checked in.
    """
    name = "<stdin>" if path == "-" else path
    try:
        if path == "-":
            raw = _read_bounded(sys.stdin.buffer, name)
        else:
            with open(path, "rb") as f:
                raw = _read_bounded(f, name)
    except OSError as err:
        raise CliError(f"cannot read snapshot {name}: {err.strerror}", ExitCode.USAGE) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise CliError(f"cannot read snapshot {name}: it is not UTF-8 text", ExitCode.USAGE) from None
    if not text.strip():
        raise CliError(f"cannot read snapshot {name}: the file is empty", ExitCode.USAGE)
    doc = replace_lone_surrogates(_parse_snapshot_text(text, name), raw)
    if not isinstance(doc, dict):
        got = {list: "a list", str: "a string", int: "a number", float: "a number", bool: "a boolean", type(None): "an empty document"}.get(type(doc), "something else")
        raise CliError(f"cannot read snapshot {name}: expected a Kubernetes List object, got {got}", ExitCode.USAGE)
    kind = doc.get("kind")
    items: list[Any]
    if kind in ("Node", "Peer"):
        items = [doc]
    elif isinstance(kind, str) and kind.endswith("List"):
        raw_items = doc.get("items")
        if raw_items is not None and not isinstance(raw_items, list):
            raise CliError(f"cannot read snapshot {name}: items is not a list", ExitCode.USAGE)
        items = raw_items or []
    else:
        raise CliError(f"cannot read snapshot {name}: expected kind List (kubectl get nodes,peers -o yaml), got kind {kind!r}", ExitCode.USAGE)
    nodes, peers, pods, daemonsets = [], [], [], []
    for item in items:
        if not isinstance(item, dict):
            continue
        item_kind = item.get("kind")
        if item_kind == "Node":
            nodes.append(item)
        elif item_kind == "Peer" and str(item.get("apiVersion", "")).startswith("kilo.squat.ai/"):
            peers.append(item)
        elif item_kind == "Pod":
            pods.append(item)
        elif item_kind == "DaemonSet":
            daemonsets.append(item)
    meta = _as_dict(doc.get("metadata"))
    notes = _as_dict(meta.get("annotations"))
    crd_present = str(notes.get(CRD_PRESENT, "true")).lower() != "false"
    if now is None:
        now = _snapshot_time(notes, nodes)
    objects = ClusterObjects(nodes, peers, pods, crd_present, now, name)
    if daemonsets or str(notes.get(DAEMONSETS_CAPTURED, "")).lower() == "true":
        objects.daemonsets = daemonsets
    objects.server_now = parse_go_int64(str(notes.get(SERVER_TIME, "")))
    objects.local_now = parse_go_int64(str(notes.get(CAPTURED_AT, "")))
    return objects


def _as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _snapshot_time(notes: dict[str, Any], nodes: list[dict[str, Any]]) -> int:
    captured = parse_go_int64(str(notes.get(CAPTURED_AT, "")))
    if captured is not None:
        return captured
    seen = []
    for node in nodes:
        value = _as_dict(_as_dict(node.get("metadata")).get("annotations")).get(ann.LAST_SEEN)
        parsed = parse_go_int64(value) if isinstance(value, str) else None
        if parsed is not None:
            seen.append(parsed)
    return max(seen) if seen else int(time.time())
