"""Static checks of what the objects tell about the mesh: hidden members,
keepalives, internal IPs, annotation typos and lists, leaders, Kilo's flags.

Membership and the leader election are the core's (``kgctl_py.mesh``);
these checks only word them.
"""

from __future__ import annotations

import difflib
import ipaddress
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kgctl_py.doctor import agent, k3s
from kgctl_py.doctor.model import Finding, Status
from kgctl_py.mesh import annotations as ann
from kgctl_py.mesh.cluster import InvalidPeer
from kgctl_py.mesh.ipnet import Address, IPNet, normalize_ip, parse_ip, parse_network, to4
from kgctl_py.mesh.membership import members
from kgctl_py.mesh.model import DEFAULT_SUBNET

if TYPE_CHECKING:
    from kgctl_py.doctor.static import StaticInput

P, W, F, S = Status.PASS, Status.WARN, Status.FAIL, Status.SKIP

# WireGuard keeps the interval in 16 bits.
MAX_KEEPALIVE = 65535
K3S_DEFAULT_SERVICE_CIDR = "10.43.0.0/16"

# Every annotation key Kilo reads or writes (pkg/k8s/backend.go), and keys of
# older Kilo releases that current Kilo ignores, with what replaced them.
KNOWN_KEYS = (
    ann.ENDPOINT,
    ann.FORCE_ENDPOINT,
    ann.INTERNAL_IP,
    ann.FORCE_INTERNAL_IP,
    ann.KEY,
    ann.LAST_SEEN,
    ann.LEADER,
    ann.LOCATION,
    ann.PERSISTENT_KEEPALIVE,
    ann.WIREGUARD_IP,
    ann.DISCOVERED_ENDPOINTS,
    ann.ALLOWED_LOCATION_IPS,
    ann.GRANULARITY,
    ann.CNI_COMPATIBILITY_IP,
)
RETIRED_KEYS = {
    ann.PREFIX + "external-ip": ann.ENDPOINT,
    ann.PREFIX + "force-external-ip": ann.FORCE_ENDPOINT,
}


def _subject(name: str) -> str:
    return name or '""'


def _annotations(obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata")
    notes = meta.get("annotations") if isinstance(meta, dict) else None
    return notes if isinstance(notes, dict) else {}


# --- kilo.hidden ---------------------------------------------------------------------------------


def kilo_hidden(inp: StaticInput) -> list[Finding]:
    out = []
    hidden = 0
    for m in members(inp.cluster, inp.now):
        if m.in_mesh:
            continue
        hidden += 1
        if m.kind == "node":
            hint = f"kgctl-py status {m.name}; check the Kilo pod on {m.name} (kubectl -n kube-system get pods -l app.kubernetes.io/name=kilo -o wide)"
        elif isinstance(m.obj, InvalidPeer):
            hint = f"kubectl edit peer {m.name}"
        else:
            hint = f"kubectl edit peer {m.name} (spec.allowedIPs and spec.publicKey)"
        out.append(Finding(F, _subject(m.name), f"left out of graph and showconf: {'; '.join(m.reasons)}", m.kind, hint=hint))
    if not out:
        total = len(inp.cluster.nodes) + len(inp.cluster.peers)
        out.append(Finding(P, "cluster", f"all {total} nodes and peers are in the mesh", "cluster"))
    elif hidden == len(inp.cluster.nodes) + len(inp.cluster.peers) + len(inp.cluster.invalid_peers) and inp.cluster.nodes:
        out.append(Finding(F, "cluster", "no node is in the mesh: kgctl reports no valid Kilo nodes", "cluster", hint="kgctl-py status"))
    return out


# --- kilo.keepalive ------------------------------------------------------------------------------


def _keepalive_problem(value: int) -> str:
    if value < 0:
        return f"{value} is negative: showconf prints it as a huge unsigned number"
    if value > MAX_KEEPALIVE:
        return f"{value} exceeds WireGuard's maximum of {MAX_KEEPALIVE} s"
    return ""


def _flag_number(text: str) -> int | None:
    """kg's unsigned flag value: ASCII digits only, as Go's strconv reads them ("²".isdigit() holds, int() fails)."""
    return ann.parse_go_int64(text) if text.isascii() and text.isdigit() else None


def kilo_keepalive(inp: StaticInput) -> list[Finding]:
    out = []
    for obj, node in zip(inp.node_objs, inp.nodes):
        raw = _annotations(obj).get(ann.PERSISTENT_KEEPALIVE)
        if raw is None:
            continue
        hint = f"kubectl annotate node {node.name} --overwrite {ann.PERSISTENT_KEEPALIVE}=25"
        parsed = ann.parse_go_int64(raw) if isinstance(raw, str) else None
        if parsed is None:
            out.append(Finding(W, _subject(node.name), f"{ann.PERSISTENT_KEEPALIVE}={raw!r} is not an integer: Kilo uses 0 (no keepalive)", hint=hint))
            continue
        problem = _keepalive_problem(parsed)
        if problem:
            out.append(Finding(F, _subject(node.name), f"{ann.PERSISTENT_KEEPALIVE} {problem}", hint=hint))
        else:
            out.append(Finding(P, _subject(node.name), f"persistent-keepalive {parsed}"))
    for obj in inp.peer_objs:
        if not isinstance(obj, dict):
            continue
        spec = obj.get("spec")
        meta = obj.get("metadata")
        name = meta.get("name") if isinstance(meta, dict) else None
        name = name if isinstance(name, str) and name else '""'
        raw = spec.get("persistentKeepalive") if isinstance(spec, dict) else None
        if raw is None:
            continue
        hint = f'kubectl patch peer {name} --type merge -p \'{{"spec":{{"persistentKeepalive":25}}}}\''
        if isinstance(raw, bool) or not isinstance(raw, int):
            out.append(Finding(F, name, f"spec.persistentKeepalive={raw!r} is not an integer: Kilo rejects the Peer", "peer", hint=hint))
            continue
        problem = _keepalive_problem(raw)
        if problem:
            out.append(Finding(F, name, f"spec.persistentKeepalive {problem}", "peer", hint=hint))
        else:
            out.append(Finding(P, name, f"persistentKeepalive {raw}", "peer"))
    if not out:
        out.append(Finding(P, "cluster", "no node or peer sets a persistent keepalive", "cluster"))
    return out


# --- kilo.internal-ip ----------------------------------------------------------------------------


def kilo_subnet(inp: StaticInput) -> tuple[IPNet, str]:
    """The Kilo WireGuard subnet and where it was read: Kilo's --subnet, the nodes' WireGuard IPs, or the default."""
    flags = agent.flags(inp.daemonsets)
    if flags is not None and flags.subnet:
        net = parse_network(flags.subnet)
        if net is not None:
            return net, "Kilo's --subnet"
    subnet = None
    for node in inp.nodes:
        if node.wireguard_ip is not None:
            subnet = node.wireguard_ip.masked()
    if subnet is not None:
        return subnet, "the nodes' WireGuard IPs"
    default = parse_network(DEFAULT_SUBNET)
    assert default is not None
    return default, "Kilo's default"


def service_cidrs(inp: StaticInput) -> tuple[list[IPNet], str]:
    """The service CIDRs, and where they were read."""
    flags = agent.flags(inp.daemonsets)
    if flags is not None and flags.service_cidrs:
        nets = [n for n in (parse_network(c) for c in flags.service_cidrs) if n is not None]
        if nets:
            return nets, "the Kilo agent's --service-cidr"
    for obj in inp.node_objs:
        args = k3s.node_args(obj) if isinstance(obj.get("metadata"), dict) else None
        values = k3s.flag_values(args or [], "--service-cidr")
        nets = [n for n in (parse_network(v) for v in values) if n is not None]
        if nets:
            return nets, "K3s's --service-cidr"
    default = parse_network(K3S_DEFAULT_SERVICE_CIDR)
    assert default is not None
    return [default], "K3s's default"


def _addresses(obj: dict[str, Any]) -> list[str]:
    status = obj.get("status")
    addrs = status.get("addresses") if isinstance(status, dict) else None
    out = []
    for a in addrs if isinstance(addrs, list) else []:
        if isinstance(a, dict) and a.get("type") in ("InternalIP", "ExternalIP") and isinstance(a.get("address"), str):
            out.append(a["address"])
    return out


def containing(nets: list[IPNet]) -> Callable[[Address], list[int]]:
    """For an address, the indices (in order) of the ``nets`` that contain it (``IPNet.contains``).

    One dict lookup per distinct prefix length rather than one test per net:
    every node's pod CIDR is a range, and n nodes against n ranges was quadratic
    (5000 nodes: 25 million tests, over a minute).
    """
    tables: dict[tuple[int, int], dict[int, list[int]]] = {}
    for k, net in enumerate(nets):
        shift = (32 if net.is_v4 else 128) - net.prefixlen
        tables.setdefault((net.ip.version, shift), {}).setdefault(int(net.ip) >> shift, []).append(k)

    def lookup(addr: Address) -> list[int]:
        addr = to4(addr)
        found: list[int] = []
        for (version, shift), table in tables.items():
            if version == addr.version:
                found += table.get(int(addr) >> shift, ())
        return sorted(found)

    return lookup


def kilo_internal_ip(inp: StaticInput) -> list[Finding]:
    subnet, subnet_from = kilo_subnet(inp)
    services, services_from = service_cidrs(inp)
    ranges: list[tuple[IPNet, str]] = [(subnet, f"the Kilo subnet {subnet} ({subnet_from})")]
    ranges += [(s, f"the service CIDR {s} ({services_from})") for s in services]
    ranges += [(n.subnet, f"the pod CIDR {n.subnet} of {n.name}") for n in inp.nodes if n.subnet is not None]
    inside = containing([net for net, _ in ranges])
    out = []
    for obj, node in zip(inp.node_objs, inp.nodes):
        ip = node.internal_ip
        if ip is None:
            why = "forced off (force-internal-ip)" if node.no_internal_ip else "none"
            out.append(Finding(P, _subject(node.name), f"no internal IP ({why}): the node is a location of its own"))
            continue
        hint = (
            f"kubectl annotate node {node.name} --overwrite {ann.FORCE_INTERNAL_IP}=<private IP>/<prefix>, "
            "or start Kilo with --internal-cidr <the nodes' private network>"
        )
        addr = ipaddress.ip_address(str(ip.ip))
        problems = []
        if addr.is_loopback or addr.is_link_local or addr.is_unspecified:
            kind = "loopback" if addr.is_loopback else "link-local" if addr.is_link_local else "unspecified"
            problems.append(f"internal IP {ip} is {kind}: no other node can reach it")
        for k in inside(ip.ip):
            problems.append(f"internal IP {ip} is inside {ranges[k][1]}")
        if problems:
            out.append(Finding(F, _subject(node.name), "; ".join(problems), hint=hint))
            continue
        addresses = _addresses(obj)
        own = parse_ip(str(ip.ip))
        if addresses and not any(parse_ip(a) == own for a in addresses):
            out.append(Finding(W, _subject(node.name), f"internal IP {ip} is not one of the node's addresses ({', '.join(addresses)})", hint=hint))
        else:
            out.append(Finding(P, _subject(node.name), f"internal IP {ip}"))
    return out


# --- kilo.annotations, extended ------------------------------------------------------------------


def annotation_problems(notes: dict[str, Any]) -> list[str]:
    """Warnings about a node's kilo.squat.ai/ annotations that Kilo silently ignores."""
    out = []
    for key in notes:
        if not isinstance(key, str) or not key.startswith(ann.PREFIX) or key in KNOWN_KEYS:
            continue
        if key in RETIRED_KEYS:
            out.append(f"{key} is no longer read by Kilo; use {RETIRED_KEYS[key]}")
            continue
        close = difflib.get_close_matches(key, KNOWN_KEYS, n=1, cutoff=0.6)
        out.append(f"unknown annotation {key}, ignored by Kilo" + (f" (did you mean {close[0]}?)" if close else ""))
    raw = notes.get(ann.ALLOWED_LOCATION_IPS)
    if isinstance(raw, str):
        bad = [part for part in raw.split(",") if normalize_ip(part) is None]
        if bad:
            spaced = " (Kilo does not strip spaces)" if any(normalize_ip(b.strip()) is not None for b in bad) else ""
            out.append(f"{ann.ALLOWED_LOCATION_IPS}: {', '.join(repr(b) for b in bad)} not IP/prefix, dropped by Kilo{spaced}")
    # Kilo writes "" for a node that is not a leader; anything else must parse.
    raw = notes.get(ann.WIREGUARD_IP)
    if isinstance(raw, str) and raw and normalize_ip(raw) is None:
        out.append(f"{ann.WIREGUARD_IP}={raw!r} is not an IP/prefix")
    raw = notes.get(ann.DISCOVERED_ENDPOINTS)
    if isinstance(raw, str) and raw and ann.parse_discovered_endpoints(raw) is None and raw != "null":
        out.append(f'{ann.DISCOVERED_ENDPOINTS} is not a JSON map of key to {{"IP","Port","Zone"}}: Kilo ignores it')
    return out


# --- leaders ------------------------------------------------------------------------------------


def kilo_leader(inp: StaticInput) -> list[Finding]:
    """Each location's elected leader and the election rule that chose it (the core's ``elect_leader``)."""
    t = inp.topology
    if t is None:
        return [Finding(S, "cluster", f"no topology to judge: {inp.topology_error}", "cluster")]
    out = []
    for s in t.segments:
        kind = "location" if s.location.startswith("location:") else "node"
        subject = s.location.split(":", 1)[1] or '""'
        members = f"; members {', '.join(s.hostnames)}" if len(s.hostnames) > 1 else ""
        out.append(Finding(P, subject, f"leader {s.leader_name}: {s.leader_reason}{members}", kind))
    return out


# --- kilo.agent ----------------------------------------------------------------------------------


def kilo_agent(inp: StaticInput) -> list[Finding]:
    if inp.daemonsets_error:
        return [Finding(S, "cluster", inp.daemonsets_error, "cluster")]
    if inp.daemonsets is None:
        return [Finding(S, "cluster", "no DaemonSets in the input (a snapshot taken without them; kgctl-py snapshot records the Kilo DaemonSet)", "cluster")]
    found = agent.flags(inp.daemonsets)
    if found is None:
        return [
            Finding(
                W,
                "cluster",
                "no Kilo DaemonSet (label app.kubernetes.io/name=kilo) found",
                "cluster",
                hint="kubectl get daemonsets -A -l app.kubernetes.io/name=kilo",
            )
        ]
    subject = found.daemonset
    out = []
    edit = f"kubectl -n {subject.split('/')[0] or 'kube-system'} edit daemonset {subject.split('/')[-1]}"
    granularity = found.granularity or agent.DEFAULT_GRANULARITY
    annotated = sorted({n.granularity for n in inp.nodes if n.granularity})
    wrong = [n.name for n in inp.nodes if n.granularity and n.granularity != granularity]
    if granularity not in ("location", "full", "cross"):
        out.append(Finding(F, subject, f"--mesh-granularity {granularity!r} is not location, full or cross: kg does not start", "cluster", hint=edit))
    elif wrong:
        out.append(
            Finding(
                F,
                subject,
                f"--mesh-granularity {granularity}, but nodes {', '.join(wrong)} are annotated {', '.join(annotated)}",
                "cluster",
                hint=f"restart the Kilo pods after fixing the DaemonSet ({edit}), or remove stale annotations",
            )
        )
    if inp.granularity.value != "auto" and inp.granularity.value != granularity:
        out.append(
            Finding(
                W,
                subject,
                f"kgctl-py runs with --mesh-granularity {inp.granularity.value}, Kilo with {granularity}: graph and showconf describe another mesh",
                "cluster",
                hint=f"pass --mesh-granularity {granularity} (or auto)",
            )
        )
    port_text = found.port or str(agent.DEFAULT_PORT)
    port = _flag_number(port_text)
    if port is None or not 1 <= port <= 65535:
        out.append(Finding(F, subject, f"--port {port_text!r} is not a UDP port: kg does not start", "cluster", hint=edit))
    elif port != inp.port:
        out.append(
            Finding(
                F,
                subject,
                f"Kilo listens on --port {port}, kgctl-py runs with --port {inp.port}: showconf prints the wrong ListenPort",
                "cluster",
                hint=f"pass --port {port} to kgctl-py",
            )
        )
    subnet_text = found.subnet or DEFAULT_SUBNET
    subnet = parse_network(subnet_text)
    if subnet is None:
        out.append(Finding(F, subject, f"--subnet {subnet_text!r} is not a CIDR: kg does not start", "cluster", hint=edit))
    else:
        outside = [f"{n.name} ({n.wireguard_ip})" for n in inp.nodes if n.wireguard_ip is not None and not subnet.contains(n.wireguard_ip.ip)]
        if outside:
            out.append(
                Finding(
                    F,
                    subject,
                    f"WireGuard IPs outside --subnet {subnet}: {', '.join(outside)}",
                    "cluster",
                    hint="restart the Kilo pods so they re-annotate their nodes (kubectl -n kube-system rollout restart daemonset kilo)",
                )
            )
    mtu_text = found.mtu or str(agent.DEFAULT_MTU)
    mtu = _flag_number(mtu_text)
    if mtu is None or not 576 <= mtu <= 65535:
        out.append(Finding(F, subject, f"--mtu {mtu_text!r} is not a usable MTU", "cluster", hint=edit))
    elif mtu > agent.DEFAULT_MTU:
        out.append(
            Finding(
                W,
                subject,
                f"--mtu {mtu_text} leaves less than WireGuard's 80 bytes of overhead on a 1500-byte link: large packets are dropped",
                "cluster",
                hint=f"{edit} (set --mtu {agent.DEFAULT_MTU} or less)",
            )
        )
    peers = inp.cluster.peers
    if peers and not found.service_cidrs:
        services, services_from = service_cidrs(inp)
        cidr = ",".join(str(s) for s in services)
        leader = inp.topology.segments[0].leader_name if inp.topology is not None and inp.topology.segments else "LEADER"
        out.append(
            Finding(
                W,
                subject,
                f"{len(peers)} Peer(s), but Kilo runs without --service-cidr: Peers cannot reach Services ({cidr}, {services_from})",
                "cluster",
                hint=f"kgctl-py showconf node {leader} --as-peer --allowed-ips {cidr} (for the Peer's config), or add --service-cidr={cidr} to Kilo's args",
            )
        )
    if not out:
        shown = f"--mesh-granularity {granularity} --port {port_text} --subnet {subnet_text} --mtu {mtu_text}"
        if found.service_cidrs:
            shown += f" --service-cidr {','.join(found.service_cidrs)}"
        out.append(Finding(P, subject, f"kg {shown} agree with the nodes and with kgctl-py's flags", "cluster"))
    return out
