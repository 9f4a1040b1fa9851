"""Where cluster objects come from: the live API, or a snapshot file.

Both give the same ``ClusterObjects``; the core never knows which it got.
"""

from __future__ import annotations

import errno
import os
import sys
import time
from collections.abc import Callable
from typing import Any, Protocol

from kgctl_py.errors import CliError, ExitCode
from kgctl_py.kube import resources as R
from kgctl_py.kube.decode import replace_lone_surrogates
from kgctl_py.kube.errors import ApiError, Denied, NotFound
from kgctl_py.kube.resources import Api
from kgctl_py.mesh import annotations as ann
from kgctl_py.mesh.annotations import parse_go_int64
from kgctl_py.record import field, record

# Written by ``kgctl-py snapshot`` into the List's metadata.
CAPTURED_AT = "kgctl-py.squat.ai/captured-at"
CRD_PRESENT = "kgctl-py.squat.ai/peer-crd"
# The kinds the snapshot read, comma-separated: "Pod" means the Kilo pods were
# listed (even if there were none), "DaemonSet" that kube-system/kilo was looked up.
LISTED = "kgctl-py.squat.ai/listed"
# The API server's clock (its HTTP Date) when the snapshot was taken, next to captured-at (ours).
SERVER_TIME = "kgctl-py.squat.ai/server-time"


@record
class ClusterObjects:
    nodes: list[dict[str, Any]]
    peers: list[dict[str, Any]]
    pods: list[dict[str, Any]] = field(default_factory=list)
    crd_present: bool = True
    # The time readiness is judged at (Unix seconds).
    now: int = 0
    source: str = ""
    # Whether the Kilo pods were read: no pods then means none run.
    pods_listed: bool = False
    # Kilo's DaemonSet (kube-system/kilo), when it was read and exists.
    daemonsets: list[dict[str, Any]] = field(default_factory=list)
    daemonset_listed: bool = False
    # The API server's Date header after the reads (live only); see ``server_time``.
    server_date: str | None = None
    # Why Kilo's DaemonSet could not be read (e.g. RBAC), with the command to check.
    daemonsets_error: str = ""
    # The API server's clock and this machine's (Unix seconds) when read: live, or
    # as a snapshot recorded them at capture. Doctor compares them (clock skew).
    server_now: int | None = None
    local_now: int | None = None

    def server_time(self) -> int | None:
        """The API server's clock in Unix seconds: from its Date header, or as a snapshot recorded it."""
        if self.server_date:
            parsed = http_date(self.server_date)
            if parsed is not None:
                return parsed
        return self.server_now

    def listed(self) -> list[str]:
        """The kinds read, for the snapshot's LISTED annotation."""
        kinds = ["Node"] + (["Peer"] if self.crd_present else [])
        return kinds + (["Pod"] if self.pods_listed else []) + (["DaemonSet"] if self.daemonset_listed else [])


@record(frozen=True)
class Want:
    """What a command reads from the cluster."""

    nodes: bool = True
    peers: bool = True
    # Ask for the Peer CRD first, as kgctl does; without it there are no peers to list.
    crd: bool = True
    # A missing CRD is an error (kgctl's commands) rather than recorded (doctor, snapshot).
    require_crd: bool = False
    pods: bool = False
    # A 403 on pods is a warning and no pods, not an error.
    pods_optional: bool = False
    # Kilo's DaemonSet, if readable.
    daemonset: bool = False


# graph and showconf: kgctl's reads.
MESH = Want(require_crd=True)
# doctor: a 403 on pods fails the checks that need them, not the run.
DOCTOR = Want(pods=True, pods_optional=True, daemonset=True)
SNAPSHOT = Want(pods=True, pods_optional=True, daemonset=True)
# TAB completion: one list call, no CRD check (a failing list means no names).
NODE_NAMES = Want(peers=False, crd=False)
PEER_NAMES = Want(nodes=False, crd=False)


class SourceSettings(Protocol):
    """The global flags a loader reads (``kgctl_py.cli.Settings`` has them)."""

    kubeconfig: str | None
    context: str | None
    snapshot: str | None
    now: int | None
    request_timeout: float


def crd_missing_error(detail: str) -> CliError:
    return CliError(f"failed to initialize peer backend: CRD is not present: {detail}", ExitCode.API_ERROR)


def load(
    s: SourceSettings, want: Want = MESH, *, client: Api | None = None, timeout: float | None = None, warn: Callable[[str], None] | None = None
) -> ClusterObjects:
    """The cluster's objects from --snapshot or the API, and the time to judge them at.

    The one time rule: ``--now`` if given; else for a snapshot its capture time
    (else its newest last-seen); else this machine's clock after the lists.
    ``client`` reuses an open client; else one is made from the kubeconfig
    (with ``timeout`` instead of --request-timeout if given) and closed.
    """
    if s.snapshot is not None:
        objects = read_snapshot(s.snapshot, s.now)
        if want.require_crd and not objects.crd_present:
            raise crd_missing_error(f"the snapshot {objects.source} records no peers.kilo.squat.ai CRD")
        return objects
    if client is not None:
        objects = fetch(client, want, warn)
    else:
        from kgctl_py.kube.client import Client
        from kgctl_py.kube.kubeconfig import resolve

        wait = s.request_timeout if timeout is None else timeout
        own = Client(resolve(s.kubeconfig, s.context, wait), timeout=wait)
        try:
            objects = fetch(own, want, warn)
        finally:
            own.close()
    if want.require_crd and not objects.crd_present:
        raise crd_missing_error('customresourcedefinitions.apiextensions.k8s.io "peers.kilo.squat.ai" not found')
    objects.now = live_now(s.now)
    return objects


def live_now(flag: int | None = None) -> int:
    """The time a live cluster is judged at: --now if given, else this machine's clock.

    (``ClusterObjects.server_time`` has the API server's clock, for a skew check.)
    """
    return flag if flag is not None else int(time.time())


def fetch(client: Api, want: Want = DOCTOR, warn: Callable[[str], None] | None = None) -> ClusterObjects:
    """Read what ``want`` names with ``client``; ``now`` is left to the caller (see ``load``).

    A missing CRD is recorded, not raised. With ``want.pods_optional`` a 403 on
    pods is passed to ``warn`` and yields no pods.
    """
    nodes = R.NODES.list(client) if want.nodes else []
    crd = True
    if want.crd:
        try:
            R.CRDS.get(client, R.PEER_CRD_NAME, what=R.PEER_CRD_WHAT)
        except NotFound:
            crd = False
    peers = R.PEERS.list(client) if want.peers and crd else []
    pods: list[dict[str, Any]] = []
    pods_listed = False
    if want.pods:
        try:
            pods = R.KILO_PODS.list(client)
            pods_listed = True
        except Denied as err:
            if not (want.pods_optional and err.status == 403):
                raise
            if warn is not None:
                warn(err.message)
    daemonsets: list[dict[str, Any]] = []
    daemonset_listed = False
    daemonsets_error = ""
    if want.daemonset:
        namespace, name = R.KILO_DAEMONSET
        try:
            found = R.DAEMONSETS.get(client, name, namespace, what=f"daemonset {namespace}/{name}")
            daemonsets = [found] if isinstance(found, dict) else []
            daemonset_listed = True
        except NotFound:
            daemonset_listed = True
        except Denied:
            # Best effort: the snapshot then says it was not captured; doctor names the permission.
            daemonsets_error = f"cannot read daemonset {namespace}/{name} (forbidden); check with: kubectl auth can-i get daemonsets.apps -n {namespace}"
        except ApiError as err:
            daemonsets_error = f"cannot read daemonset {namespace}/{name}: {err.message}"
    server = getattr(getattr(client, "auth", None), "server", "")
    date = getattr(client, "server_date", None)
    objects = ClusterObjects(nodes, peers, pods, crd, 0, server, pods_listed, daemonsets, daemonset_listed, date if isinstance(date, str) else None)
    objects.daemonsets_error = daemonsets_error
    objects.local_now = int(time.time())
    return objects


def http_date(date: str) -> int | None:
    """An HTTP Date header as Unix seconds, or None."""
    import email.utils

    try:
        return int(email.utils.parsedate_to_datetime(date).timestamp())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def _parse_snapshot_text(text: str, name: str) -> Any:
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        from kgctl_py.kube.decode import loads_json, value_problem

        try:
            return loads_json(text)
        except ValueError as err:
            raise CliError(f"cannot read snapshot {name}: invalid JSON: {value_problem(err)}", ExitCode.USAGE) from None
    import yaml

    from kgctl_py.kube import kubectl_yaml
    from kgctl_py.kube.decode import TooDeep, check_depth, value_problem

    try:
        # kubectl's YAML read fast; anything else, and every error, by PyYAML (libyaml's loader).
        return check_depth(kubectl_yaml.load(text))
    except (TooDeep, RecursionError):
        raise CliError(f"cannot read snapshot {name}: invalid YAML: {TooDeep()}", ExitCode.USAGE) from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(err, "problem", None) or "not valid YAML"
        raise CliError(f"cannot read snapshot {name}: invalid YAML{where}: {problem}", ExitCode.USAGE) from None
    except ValueError as err:  # a scalar PyYAML resolves but cannot build (2025-13-45, 5000 digits)
        raise CliError(f"cannot read snapshot {name}: invalid YAML: {value_problem(err, yaml=True)}", ExitCode.USAGE) from None


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
            if sys.stdin is None:  # started with stdin closed (`<&-`): Python gives None, not a stream
                raise OSError(errno.EBADF, os.strerror(errno.EBADF))
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
        got = {list: "a list", str: "a string", int: "a number", float: "a number", bool: "a boolean", type(None): "an empty document"}.get(
            type(doc), "something else"
        )
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
    listed_note = notes.get(LISTED)
    if isinstance(listed_note, str):
        listed = set(listed_note.split(","))
        pods_listed, daemonset_listed = "Pod" in listed, "DaemonSet" in listed
    else:
        # A plain `kubectl get` dump: what it holds is all we know was read.
        pods_listed, daemonset_listed = bool(pods), bool(daemonsets)
    objects = ClusterObjects(nodes, peers, pods, crd_present, now, name, pods_listed, daemonsets, daemonset_listed)
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
