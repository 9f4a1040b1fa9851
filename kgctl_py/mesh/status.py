"""``kgctl-py status``: one row per Node and Peer, with whether kgctl meshes it and why not.

Pure: the rows come from the same membership rules (``membership``) and the
same topology as ``graph``.
"""

from __future__ import annotations

from kgctl_py.mesh.cluster import Cluster, InvalidPeer, KgctlError, Options, topology_for_graph
from kgctl_py.mesh.ipnet import ip_str
from kgctl_py.mesh.membership import members
from kgctl_py.mesh.model import Node, Peer, duration_seconds
from kgctl_py.mesh.topology import NIL_NET, Topology
from kgctl_py.record import field, record


@record
class Row:
    name: str
    kind: str
    location: str = ""
    leader: bool = False
    leader_reason: str = ""
    endpoint: str = ""
    wireguard_ip: str = ""
    pod_cidr: str = ""
    internal_ip: str = ""
    allowed_ips: list[str] = field(default_factory=list)
    # Unix seconds; 0 when never seen. Age is now - last_seen.
    last_seen: int = 0
    age: int | None = None
    keepalive: int = 0
    granularity: str = ""
    in_mesh: bool = False
    reasons: list[str] = field(default_factory=list)


@record
class Status:
    rows: list[Row]
    now: int
    # Why there is no topology (so no leaders), e.g. kgctl's own error.
    topology_error: str = ""


def _leaders(t: Topology | None) -> dict[str, tuple[str, str]]:
    """Leader name -> (its WireGuard IP, the election rule)."""
    out = {}
    for s in t.segments if t is not None else []:
        ip = s.wireguard_ip
        text = "" if ip is None else str(NIL_NET) if ip is NIL_NET else ip_str(ip)  # type: ignore[arg-type]
        out[s.leader_name] = (text, s.leader_reason)
    return out


def status(cluster: Cluster, opts: Options, now: int) -> Status:
    topology, error = None, ""
    try:
        topology = topology_for_graph(cluster, opts, now)
    except KgctlError as err:
        error = str(err)
    leaders = _leaders(topology)
    rows = []
    for m in members(cluster, now):
        row = Row(m.name, m.kind, in_mesh=m.in_mesh, reasons=list(m.reasons))
        obj = m.obj
        if isinstance(obj, Node):
            row.location = obj.location
            row.endpoint = str(obj.endpoint) if obj.endpoint is not None else ""
            row.pod_cidr = str(obj.subnet) if obj.subnet is not None else ""
            row.internal_ip = str(obj.internal_ip) if obj.internal_ip is not None else ""
            row.last_seen = obj.last_seen
            row.age = now - obj.last_seen if obj.last_seen else None
            row.keepalive = duration_seconds(obj.keepalive_ns)
            row.granularity = obj.granularity
            if m.in_mesh and obj.name in leaders:
                row.leader = True
                row.wireguard_ip, row.leader_reason = leaders[obj.name]
            elif obj.wireguard_ip is not None:
                row.wireguard_ip = str(obj.wireguard_ip)
        elif isinstance(obj, Peer):
            row.endpoint = str(obj.endpoint) if obj.endpoint is not None else ""
            row.allowed_ips = [str(ip) for ip in obj.allowed_ips]
            row.keepalive = duration_seconds(obj.keepalive_ns)
        elif isinstance(obj, InvalidPeer):
            pass
        rows.append(row)
    return Status(rows, now, error)
