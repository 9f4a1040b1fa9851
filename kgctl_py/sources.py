"""Where cluster objects come from: the live API, or a snapshot file.

Both give the same ``ClusterObjects``; the core never knows which it got.
"""

from __future__ import annotations

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


@dataclass
class ClusterObjects:
    nodes: list[dict[str, Any]]
    peers: list[dict[str, Any]]
    pods: list[dict[str, Any]] = field(default_factory=list)
    crd_present: bool = True
    # The time readiness is judged at (Unix seconds).
    now: int = 0
    source: str = ""


def crd_missing_error(detail: str) -> CliError:
    return CliError(f"failed to initialize peer backend: CRD is not present: {detail}", ExitCode.API_ERROR)


def fetch(client: Any, *, with_pods: bool = False, pods_optional: bool = False, warn: Any = None) -> ClusterObjects:
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
    return ClusterObjects(nodes, peers, pods, crd, int(time.time()), client.auth.server)


def from_cluster(kubeconfig: str | None, context: str | None, timeout: float, need_peers: bool = True, with_pods: bool = False) -> ClusterObjects:
    """What kgctl reads: the nodes, and the peers behind kgctl's CRD check."""
    from kgctl_py.kube.client import Client
    from kgctl_py.kube.kubeconfig import resolve

    client = Client(resolve(kubeconfig, context, timeout), timeout=timeout)
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
        from kgctl_py.decode import loads_json

        try:
            return loads_json(text)
        except ValueError as err:
            raise CliError(f"cannot read snapshot {name}: invalid JSON: {err}", ExitCode.USAGE) from None
    import yaml

    from kgctl_py.decode import TooDeep, check_depth

    try:
        return check_depth(yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)))
    except (TooDeep, RecursionError):
        raise CliError(f"cannot read snapshot {name}: invalid YAML: {TooDeep()}", ExitCode.USAGE) from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(err, "problem", None) or "not valid YAML"
        raise CliError(f"cannot read snapshot {name}: invalid YAML{where}: {problem}", ExitCode.USAGE) from None


# A realistic 5000-node dump (K3s nodes with managedFields, 40 cached images,
# 500 Peers; bench/bench_snapshot.py --weigh 5000) is 74 MB of YAML, 69 MB of
# JSON. The cap is about three times that: room for bigger nodes and pods, and
# it stops /dev/zero and the like before they cost gigabytes.
MAX_SNAPSHOT_BYTES = 256 << 20


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
    nodes, peers, pods = [], [], []
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
    meta = _as_dict(doc.get("metadata"))
    notes = _as_dict(meta.get("annotations"))
    crd_present = str(notes.get(CRD_PRESENT, "true")).lower() != "false"
    if now is None:
        now = _snapshot_time(notes, nodes)
    return ClusterObjects(nodes, peers, pods, crd_present, now, name)


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
