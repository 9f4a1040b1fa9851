"""Checks that read only objects (Nodes, Peers, Pods): they run on --snapshot too.

Each check is a pure function of ``StaticInput``; the translation of objects
into Kilo's domain is the core's (``kgctl_py.mesh``), never redone here.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from typing import Any

from kgctl_py.doctor import hints, k3s, mesh_checks
from kgctl_py.doctor.model import Finding, Status
from kgctl_py.mesh import annotations as ann
from kgctl_py.mesh.cluster import Cluster, KgctlError, Options, topology_for_graph
from kgctl_py.mesh.endpoint import parse_endpoint
from kgctl_py.mesh.ipnet import IPNet, is_public, normalize_ip, parse_ip, parse_network
from kgctl_py.mesh.key import key_str, parse_key
from kgctl_py.mesh.membership import age_text
from kgctl_py.mesh.model import DEFAULT_SUBNET, READY_WINDOW_SECONDS, Granularity, Node
from kgctl_py.mesh.topology import LEADER_ANNOTATED, Topology
from kgctl_py.record import field, record

P, W, F, S = Status.PASS, Status.WARN, Status.FAIL, Status.SKIP
# Kilo's default check-in period; last-seen further in the future than this is clock skew.
SKEW_TOLERANCE = 30


@record
class StaticInput:
    node_objs: list[dict[str, Any]]
    nodes: list[Node]  # translated, parallel to node_objs
    peer_objs: list[dict[str, Any]]
    cluster: Cluster
    pods: list[dict[str, Any]] = field(default_factory=list)
    crd_present: bool = True
    now: int = 0
    port: int = 51820
    granularity: Granularity = Granularity.AUTO
    snapshot: bool = False
    pods_listed: bool = False
    # Why the pods could not be read (e.g. RBAC), for the checks that need them.
    pods_problem: str = ""
    # doctor --pre: Kilo is not installed yet, but will be the CNI.
    pre: bool = False
    topology: Topology | None = None
    topology_error: str = ""
    # The DaemonSets read (None: not captured) or why they could not be read.
    daemonsets: list[dict[str, Any]] | None = None
    daemonsets_error: str = ""
    # How ``now`` was chosen: "--now", "capture" (a snapshot's time) or "server"/"local" clock.
    now_from: str = ""
    # This machine's clock and the API server's (its HTTP Date), when read live.
    local_now: int | None = None
    server_now: int | None = None

    @property
    def ready_nodes(self) -> list[Node]:
        return [n for n in self.nodes if n.ready(self.now)]


def build_input(
    node_objs: list[dict[str, Any]],
    peer_objs: list[dict[str, Any]],
    *,
    pods: list[dict[str, Any]] | None = None,
    crd_present: bool = True,
    now: int = 0,
    port: int = 51820,
    granularity: Granularity = Granularity.AUTO,
    topology_label: str = "topology.kubernetes.io/region",
    snapshot: bool = False,
    daemonsets: list[dict[str, Any]] | None = None,
    daemonsets_error: str = "",
) -> StaticInput:
    from kgctl_py import shapes

    node_objs = [o for o in node_objs if isinstance(o, dict)]
    # The core copes with any shape (as graph does); the checks read shaped copies.
    cluster = Cluster.from_objects(node_objs, peer_objs, topology_label)
    shaped_nodes = [shapes.node(o) for o in node_objs]
    shaped_peers = [shapes.peer(o) for o in peer_objs if isinstance(o, dict)]
    shaped_pods = [shapes.pod(o) for o in pods or [] if isinstance(o, dict)]
    inp = StaticInput(
        shaped_nodes,
        cluster.nodes,
        shaped_peers,
        cluster,
        shaped_pods,
        crd_present,
        now,
        port,
        granularity,
        snapshot,
        pods is not None,
        daemonsets=daemonsets,
        daemonsets_error=daemonsets_error,
    )
    try:
        inp.topology = topology_for_graph(cluster, Options(granularity=granularity, port=port), now)
    except KgctlError as err:
        inp.topology_error = str(err)
    return inp


def _annotations(obj: dict[str, Any]) -> dict[str, Any]:
    notes = (obj.get("metadata") or {}).get("annotations")
    return notes if isinstance(notes, dict) else {}


def _ip_text(endpoint: Any) -> str | None:
    if endpoint is None or endpoint.ip is None:
        return None
    return str(endpoint.ip)


def _same_ip(a: str, b: str) -> bool:
    pa, pb = parse_ip(a), parse_ip(b)
    return pa is not None and pa == pb


# --- k3s ---------------------------------------------------------------------------------------


def _servers(inp: StaticInput, out: list[Finding]) -> Iterator[tuple[dict[str, Any], Node, list[str]]]:
    """K3s server nodes with their node args; a server whose args cannot be read is skipped with a finding."""
    for obj, node in zip(inp.node_objs, inp.nodes):
        args = k3s.node_args(obj)
        if not k3s.is_server(obj, args):
            continue
        if args is None:
            out.append(Finding(S, node.name, "server node without a readable k3s.io/node-args annotation"))
            continue
        yield obj, node, args


def k3s_tls_san(inp: StaticInput) -> list[Finding]:
    out: list[Finding] = []
    for obj, node, args in _servers(inp, out):
        sans = k3s.flag_values(args, "--tls-san")
        wanted = k3s.external_ips(obj, args)
        endpoint_ip = _ip_text(node.endpoint)
        if endpoint_ip and node.endpoint is not None and is_public(node.endpoint.ip) and endpoint_ip not in wanted:
            wanted.append(endpoint_ip)
        if not wanted:
            out.append(
                Finding(
                    W,
                    node.name,
                    f"cannot tell the server's public address (no external IP, no public Kilo endpoint); --tls-san is {', '.join(sans) or 'not set'}",
                )
            )
            continue
        covered = [w for w in wanted if any(_same_ip(w, s) or w == s for s in sans)]
        if covered:
            out.append(Finding(P, node.name, f"--tls-san covers {', '.join(covered)}"))
        else:
            out.append(
                Finding(
                    F,
                    node.name,
                    f"--tls-san {', '.join(sans) or '(none)'} does not cover the public address {', '.join(wanted)}",
                    hint=f"add `--tls-san {wanted[0]}` to the K3s server (or `tls-san: [{wanted[0]}]` in /etc/rancher/k3s/config.yaml) and restart k3s",
                )
            )
    if not out:
        out.append(Finding(S, "cluster", "no K3s server node found (no k3s.io/node-args starting with 'server', no control-plane label)", "cluster"))
    return out


def k3s_node_external_ip(inp: StaticInput) -> list[Finding]:
    out: list[Finding] = []
    # Only leaders are reached from other locations; a member's traffic goes through its leader.
    leaders = {s.leader_name: s.location_name for s in inp.topology.segments} if inp.topology is not None else None
    followers = {} if inp.topology is None else {h: s.leader_name for s in inp.topology.segments for h in s.hostnames if h != s.leader_name}
    for obj, node in zip(inp.node_objs, inp.nodes):
        args = k3s.node_args(obj)
        declared = k3s.external_ips(obj, args)
        endpoint = node.endpoint
        if not declared and leaders is not None and node.name in followers:
            out.append(Finding(P, node.name, f"no external IP; not a leader: other locations reach it through {followers[node.name]}"))
            continue
        if not declared:
            out.append(
                Finding(
                    W,
                    node.name,
                    "no external IP declared (no k3s.io/external-ip, no ExternalIP address, no --node-external-ip)",
                    hint=f"start K3s on {node.name} with `--node-external-ip <public IP>`",
                )
            )
            continue
        if endpoint is None:
            out.append(Finding(P, node.name, f"external IP {', '.join(declared)} (no Kilo endpoint to compare)"))
        elif endpoint.dns is not None:
            out.append(Finding(P, node.name, f"external IP {', '.join(declared)}; Kilo endpoint is the DNS name {endpoint.dns}"))
        elif any(_same_ip(d, str(endpoint.ip)) for d in declared):
            out.append(Finding(P, node.name, f"external IP {', '.join(declared)} matches the Kilo endpoint {endpoint}"))
        else:
            out.append(
                Finding(
                    F,
                    node.name,
                    f"external IP {', '.join(declared)} disagrees with the Kilo endpoint {endpoint}",
                    hint=f"kubectl annotate node {node.name} --overwrite {ann.FORCE_ENDPOINT}={declared[0]}:{endpoint.port}",
                )
            )
    return out


def k3s_metrics_bind_address(inp: StaticInput) -> list[Finding]:
    out: list[Finding] = []
    for obj, node in zip(inp.node_objs, inp.nodes):
        args = k3s.node_args(obj)
        if args is None:
            out.append(Finding(S, node.name, "no readable k3s.io/node-args annotation"))
            continue
        values = [v.split("=", 1)[1] for v in k3s.flag_values(args, "--kube-proxy-arg") if v.startswith("metrics-bind-address=")]
        if any(v.startswith("0.0.0.0") for v in values):
            out.append(Finding(P, node.name, "kube-proxy metrics-bind-address=0.0.0.0"))
        else:
            now = f"metrics-bind-address={values[-1]}" if values else "no metrics-bind-address"
            out.append(
                Finding(
                    F,
                    node.name,
                    f"kube-proxy has {now}; metrics are not reachable from other nodes",
                    hint=f"start K3s on {node.name} with `--kube-proxy-arg metrics-bind-address=0.0.0.0`",
                )
            )
    return out


def k3s_flannel_backend(inp: StaticInput) -> list[Finding]:
    out: list[Finding] = []
    kilo = inp.pre or any(n.key is not None for n in inp.nodes)
    for _, node, args in _servers(inp, out):
        backends = k3s.flag_values(args, "--flannel-backend")
        backend = backends[-1] if backends else "vxlan (the default)"
        if backend == "none":
            out.append(Finding(P, node.name, "--flannel-backend none"))
        elif not kilo:
            out.append(Finding(P, node.name, f"--flannel-backend {backend}; no node carries a Kilo key, so Kilo is not the CNI"))
        else:
            will = "will be" if inp.pre else "is"
            out.append(
                Finding(
                    F,
                    node.name,
                    f"--flannel-backend {backend}, but Kilo {will} the CNI: flannel and Kilo both route pod traffic",
                    hint=f"restart the K3s server {node.name} with `--flannel-backend none`",
                )
            )
    if not out:
        out.append(Finding(S, "cluster", "no K3s server node found", "cluster"))
    return out


# --- kilo ----------------------------------------------------------------------------------------


def kilo_crd(inp: StaticInput) -> list[Finding]:
    if inp.crd_present:
        return [Finding(P, "peers.kilo.squat.ai", "the Peer CRD is installed", "cluster")]
    return [
        Finding(
            F,
            "peers.kilo.squat.ai",
            "the Peer CRD is not installed: kgctl and Kilo cannot read Peers",
            "cluster",
            hint="kubectl apply -f https://raw.githubusercontent.com/squat/kilo/main/manifests/crds.yaml",
        )
    ]


def kilo_annotations(inp: StaticInput) -> list[Finding]:
    out: list[Finding] = []
    for obj, node in zip(inp.node_objs, inp.nodes):
        notes = _annotations(obj)
        bad: list[str] = []
        soft: list[str] = []

        value = notes.get

        key = value(ann.KEY)
        if key is None:
            bad.append(f"{ann.KEY} is missing")
        elif parse_key(key) is None:
            bad.append(f"{ann.KEY}={key!r} is not a base64 WireGuard key")
        for k in (ann.FORCE_ENDPOINT, ann.ENDPOINT):
            if value(k) not in (None, "") and parse_endpoint(str(value(k))) is None:
                bad.append(f"{k}={value(k)!r} is not host:port")
        if value(ann.ENDPOINT) is None and value(ann.FORCE_ENDPOINT) is None:
            bad.append(f"{ann.ENDPOINT} is missing")
        forced_none = value(ann.FORCE_INTERNAL_IP) in ("", "-")
        for k in (ann.FORCE_INTERNAL_IP, ann.INTERNAL_IP):
            v = value(k)
            if v not in (None, "", "-") and normalize_ip(str(v)) is None:
                bad.append(f"{k}={v!r} is not an IP/prefix")
        if value(ann.INTERNAL_IP) is None and value(ann.FORCE_INTERNAL_IP) is None and not forced_none:
            soft.append(f"{ann.INTERNAL_IP} is missing: the node gets a location of its own")
        seen = value(ann.LAST_SEEN)
        if seen is None:
            bad.append(f"{ann.LAST_SEEN} is missing")
        elif not isinstance(seen, str) or ann.parse_go_int64(seen) is None:
            bad.append(f"{ann.LAST_SEEN}={seen!r} is not a Unix time")
        granularity = value(ann.GRANULARITY)
        if granularity is None:
            soft.append(f"{ann.GRANULARITY} is missing (kgctl's --mesh-granularity auto needs it)")
        elif ann.node_granularity({ann.GRANULARITY: granularity}) == "":
            bad.append(f"{ann.GRANULARITY}={granularity!r} is not 'location' or 'full'")
        extra = mesh_checks.annotation_problems(notes)
        soft += extra
        subnet = (obj.get("spec") or {}).get("podCIDR")
        if subnet is None:
            bad.append("spec.podCIDR is missing")
        elif not isinstance(subnet, str) or parse_network(subnet) is None:
            bad.append(f"spec.podCIDR={subnet!r} is not a CIDR")
        if bad:
            out.append(
                Finding(
                    F,
                    node.name,
                    "; ".join(bad + soft),
                    hint=f"check the Kilo pod on {node.name} ({hints.kilo_logs(node.name)}); fix or remove forced annotations with kubectl annotate node {node.name} KEY-",
                )
            )
        elif soft:
            hint = f"fix the value, or remove a key Kilo ignores: kubectl annotate node {node.name} KEY-" if extra else ""
            out.append(Finding(W, node.name, "; ".join(soft), hint=hint))
        else:
            out.append(Finding(P, node.name, "key, endpoint, internal-ip, last-seen and granularity parse"))
    return out


_WHEN = {"--now": "at --now", "capture": "at capture time", "server": "by the API server's clock", "local": "by this machine's clock"}


def _clock(ts: int) -> str:
    import datetime

    try:
        return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    except (OverflowError, OSError, ValueError):
        return str(ts)


def kilo_last_seen(inp: StaticInput) -> list[Finding]:
    out: list[Finding] = []
    now_from = inp.now_from or ("capture" if inp.snapshot else "local")
    when = _WHEN.get(now_from, "by this machine's clock")
    # Only a time read from this machine's clock can be this machine's fault.
    ours = now_from == "local"
    ages = []
    for obj, node in zip(inp.node_objs, inp.nodes):
        raw = _annotations(obj).get(ann.LAST_SEEN)
        if raw is None or node.last_seen == 0:
            out.append(Finding(F, node.name, "no usable last-seen: Kilo has not checked in", hint=f"check that the Kilo pod runs on {node.name}"))
            continue
        age = inp.now - node.last_seen
        ages.append(age)
        if age < -SKEW_TOLERANCE:
            whose = (
                f"the clock of {node.name} or of this machine is skewed"
                if ours
                else f"the clock of {node.name} is ahead"
                if now_from == "server"
                else "the time given is earlier than the node's check-in"
            )
            out.append(
                Finding(
                    W,
                    node.name,
                    f"last seen {age_text(age)} in the future {when}: {whose}",
                    hint="sync the clocks (timedatectl set-ntp true) on the node" + (" and on the machine running doctor" if ours else ""),
                )
            )
        elif age >= READY_WINDOW_SECONDS:
            hint = f"check the Kilo pod on {node.name}" + ("; if every node looks stale, check this machine's clock (date -u)" if ours else "")
            out.append(
                Finding(F, node.name, f"last seen {age_text(age)} ago {when} (limit {READY_WINDOW_SECONDS}s): Kilo drops the node from the mesh", hint=hint)
            )
        else:
            out.append(Finding(P, node.name, f"last seen {age_text(age)} ago"))
    stale = [a for a in ages if a >= READY_WINDOW_SECONDS]
    if ages and len(stale) == len(ages) and len(ages) > 1 and ours:
        # Every node stale by about the same amount: more likely our clock than the mesh.
        spread = max(ages) - min(ages)
        if spread < 2 * READY_WINDOW_SECONDS:
            out.append(
                Finding(
                    W,
                    "cluster",
                    f"every node looks {age_text(min(ages))}+ stale: the clock of the machine running doctor may be ahead (clock skew)",
                    "cluster",
                    hint="compare `date -u` here with a node's; or pass --now",
                )
            )
    if inp.server_now is not None and inp.local_now is not None:
        skew = inp.local_now - inp.server_now
        clocks = f"this machine {_clock(inp.local_now)}, API server {_clock(inp.server_now)}" + (" at capture" if inp.snapshot else "")
        if abs(skew) > SKEW_TOLERANCE:
            direction = "ahead of" if skew > 0 else "behind"
            judged = "freshness judged by the server's clock" if now_from == "server" else f"freshness judged {when}"
            out.append(
                Finding(
                    W,
                    "this-machine",
                    f"this machine's clock is {age_text(skew)} {direction} the API server's ({clocks}); {judged}",
                    "cluster",
                    hint="sync this machine's clock: timedatectl set-ntp true",
                )
            )
        else:
            out.append(Finding(P, "this-machine", f"clocks agree within {SKEW_TOLERANCE}s ({clocks})", "cluster"))
    return out


def kilo_endpoint(inp: StaticInput) -> list[Finding]:
    t = inp.topology
    if t is None:
        return [Finding(S, "cluster", f"no topology to judge: {inp.topology_error}", "cluster")]
    out = []
    multi = len(t.segments) > 1
    for s in t.segments:
        leader = s.leader_name
        subject = s.location_name
        kind = "location" if s.logical else "node"
        ep = s.endpoint
        problems = []
        if ep is None:
            problems.append(f"leader {leader} has no endpoint")
        else:
            if ep.port != inp.port:
                problems.append(f"leader {leader}'s endpoint {ep} uses port {ep.port}, not --port {inp.port}")
            if multi and ep.ip is not None:
                addr = ipaddress.ip_address(str(ep.ip))
                if addr.is_loopback or addr.is_unspecified or addr.is_link_local:
                    problems.append(f"leader {leader}'s endpoint {ep} is not routable")
                elif not is_public(ep.ip):
                    problems.append(f"leader {leader}'s endpoint {ep} is private; other locations cannot reach it")
        if problems:
            port = ep.port if ep is not None else inp.port
            hint = f"kubectl annotate node {leader} --overwrite {ann.FORCE_ENDPOINT}=<public IP>:{port}"
            if s.leader_reason == LEADER_ANNOTATED and len(s.hostnames) > 1:
                # The annotation beat a node that may have a public endpoint.
                problems.append(f"{leader} leads because of its {ann.LEADER} annotation")
                hint += f"; or move the leadership: kubectl annotate node {leader} {ann.LEADER}-"
            out.append(Finding(F, subject, "; ".join(problems), kind, hint=hint))
        else:
            note = "" if multi else " (one location: it need not be public)"
            out.append(Finding(P, subject, f"leader {leader} endpoint {ep}{note}; elected as {s.leader_reason}", kind))
    return out


def kilo_nat_keepalive(inp: StaticInput) -> list[Finding]:
    t = inp.topology
    out = []
    discovered: dict[str, set[str]] = {}
    for node in inp.nodes:
        for key, ep in (node.discovered_endpoints or {}).items():
            if ep is not None and ep.ip is not None:
                discovered.setdefault(key, set()).add(str(ep.ip))

    def nat_reason(endpoint: Any, key: bytes | None) -> str:
        if endpoint is not None and endpoint.ip is not None and not is_public(endpoint.ip):
            return f"endpoint {endpoint} is private"
        if key is not None and endpoint is not None and endpoint.ip is not None:
            seen = discovered.get(key_str(key), set()) - {str(endpoint.ip)}
            if seen:
                return f"peers see it at {', '.join(sorted(seen))}, not at its endpoint {endpoint}"
        return ""

    if t is not None and len(t.segments) > 1:
        nodes = {n.name: n for n in inp.nodes}
        for s in t.segments:
            node = nodes[s.leader_name]
            reason = nat_reason(node.endpoint, node.key)
            if not reason:
                out.append(Finding(P, node.name, f"endpoint {node.endpoint} looks directly reachable"))
            elif node.keepalive_ns > 0:
                out.append(Finding(P, node.name, f"{reason}; persistent-keepalive is set"))
            else:
                out.append(
                    Finding(
                        W,
                        node.name,
                        f"looks NAT'd ({reason}) but has no persistent-keepalive",
                        hint=f"kubectl annotate node {node.name} --overwrite {ann.PERSISTENT_KEEPALIVE}=25",
                    )
                )
    for peer in inp.cluster.peers:
        if peer.endpoint is None:
            reason = "it has no endpoint (roaming)"
        else:
            reason = nat_reason(peer.endpoint, peer.public_key)
        if not reason:
            out.append(Finding(P, peer.name, f"endpoint {peer.endpoint} looks directly reachable", "peer"))
        elif peer.keepalive_ns > 0:
            out.append(Finding(P, peer.name, f"{reason}; persistentKeepalive is set", "peer"))
        else:
            out.append(
                Finding(
                    W,
                    peer.name,
                    f"looks NAT'd ({reason}) but has no persistentKeepalive",
                    "peer",
                    hint=f'kubectl patch peer {peer.name} --type merge -p \'{{"spec":{{"persistentKeepalive":25}}}}\'',
                )
            )
    if not out:
        out.append(Finding(P, "cluster", "one location and no peers: nothing crosses a NAT", "cluster"))
    return out


def kilo_location(inp: StaticInput) -> list[Finding]:
    if inp.topology is not None and not any(s.logical for s in inp.topology.segments) and inp.granularity != Granularity.LOCATION:
        return [Finding(P, "cluster", "full granularity: every node is its own location", "cluster")]
    groups: dict[str, list[Node]] = {}
    for node in inp.nodes:
        if node.internal_ip is not None:
            groups.setdefault(node.location, []).append(node)
    out = []
    # Sort so the report is stable.
    for location in sorted(groups):
        members = sorted(groups[location], key=lambda n: n.name)
        nets: dict[str, list[str]] = {}
        public = []
        for n in members:
            ip = n.internal_ip
            assert ip is not None
            nets.setdefault(str(ip.masked()), []).append(n.name)
            if is_public(ip.ip):
                public.append(f"{n.name} ({ip})")
        name = location or '""'
        if len(nets) > 1:
            parts = "; ".join(f"{net}: {', '.join(names)}" for net, names in sorted(nets.items()))
            out.append(
                Finding(
                    W,
                    name,
                    f"nodes of one location are in different networks ({parts}); Kilo routes between them over their private IPs without WireGuard",
                    "location",
                    hint="give nodes that cannot reach each other privately different locations: kubectl annotate node NODE kilo.squat.ai/location=NAME",
                )
            )
        elif public:
            out.append(
                Finding(
                    W,
                    name,
                    f"internal IP is public: {', '.join(public)}",
                    "location",
                    hint="set the private address: kubectl annotate node NODE kilo.squat.ai/force-internal-ip=IP/PREFIX",
                )
            )
        else:
            out.append(Finding(P, name, f"{len(members)} node(s) in {next(iter(nets))}", "location"))
    return out


def kilo_granularity(inp: StaticInput) -> list[Finding]:
    values: dict[str, list[str]] = {}
    for node in inp.nodes:
        # A missing or unknown value is kilo.annotations' finding.
        if node.granularity:
            values.setdefault(node.granularity, []).append(node.name)
    if len(values) <= 1:
        value = next(iter(values), "(none set)")
        return [Finding(P, "cluster", f"all nodes agree: {value}", "cluster")]
    # The majority is probably right; name the others.
    majority = max(values, key=lambda v: (len(values[v]), v))
    out = []
    for value, names in sorted(values.items()):
        if value == majority:
            continue
        for name in names:
            out.append(
                Finding(
                    F,
                    name,
                    f"granularity {value}, but {len(values[majority])} node(s) have {majority}",
                    hint=f"run every Kilo with the same --mesh-granularity ({majority})",
                )
            )
    return out


@record
class _Range:
    start: int
    end: int
    net: IPNet
    owner: str
    what: str


def kilo_cidr_overlap(inp: StaticInput) -> list[Finding]:
    subnet = parse_network(DEFAULT_SUBNET)
    for node in inp.nodes:
        if node.wireguard_ip is not None:
            subnet = node.wireguard_ip.masked()
    items: list[tuple[IPNet, str, str]] = []
    assert subnet is not None
    items.append((subnet, "kilo", f"the Kilo WireGuard subnet {subnet}"))
    for node in inp.nodes:
        if node.subnet is not None:
            items.append((node.subnet, f"node:{node.name}", f"pod CIDR {node.subnet} of {node.name}"))
    seen_location: set[tuple[str, str]] = set()
    for node in inp.nodes:
        for ip in node.allowed_location_ips:
            key = (node.location, str(ip.masked()))
            if key in seen_location:
                continue  # two nodes of one location may declare the same range
            seen_location.add(key)
            items.append((ip, f"location:{node.location}", f"allowed-location-ip {ip} of location {node.location or '(none)'}"))
    for peer in inp.cluster.peers:
        for ip in peer.allowed_ips:
            items.append((ip, f"peer:{peer.name}", f"allowed IP {ip} of peer {peer.name}"))
    ranges = []
    for net, owner, what in items:
        width = 32 if net.is_v4 else 128
        start = net.network_int() + (0 if net.is_v4 else 1 << 200)
        ranges.append(_Range(start, start + (1 << (width - net.prefixlen)) - 1, net, owner, what))
    # Sort by start, widest first, so one sweep finds every range that overlaps an earlier one.
    ranges.sort(key=lambda r: (r.start, -r.end))
    out = []
    widest: _Range | None = None
    for r in ranges:
        if widest is not None and r.start <= widest.end and r.owner != widest.owner:
            kind, name = _subject(r.owner)
            out.append(
                Finding(
                    F,
                    name,
                    f"{r.what} overlaps {widest.what}",
                    kind,
                    hint="change one of the ranges: pod CIDRs (--cluster-cidr), Kilo's --subnet, kilo.squat.ai/allowed-location-ips or the Peer's allowedIPs",
                )
            )
        if widest is None or r.end > widest.end:
            widest = r
    if not out:
        out.append(Finding(P, "cluster", f"{len(ranges)} ranges, no overlap", "cluster"))
    return out


def _subject(owner: str) -> tuple[str, str]:
    kind, _, name = owner.partition(":")
    if kind == "kilo":
        return "cluster", "kilo-subnet"
    return kind, name or '""'


def kilo_peers(inp: StaticInput) -> list[Finding]:
    out = []
    for bad in inp.cluster.invalid_peers:
        out.append(Finding(F, bad.name, f"invalid Peer, Kilo ignores it: {bad.reason}", "peer", hint=f"kubectl edit peer {bad.name}"))
    owners: dict[bytes, list[tuple[str, str]]] = {}
    for node in inp.nodes:
        if node.key is not None:
            owners.setdefault(node.key, []).append(("node", node.name))
    for peer in inp.cluster.peers:
        if peer.public_key is not None:
            owners.setdefault(peer.public_key, []).append(("peer", peer.name))
    for key, who in owners.items():
        if len(who) > 1:
            if len(set(who)) == 1:
                kind, name = who[0]
                out.append(
                    Finding(
                        F,
                        name,
                        f"{kind} {name} appears {len(who)} times in the input with the same public key {key_str(key)[:8]}…",
                        kind,
                        hint=f"remove the duplicate {kind} {name} (a snapshot that lists it twice?)",
                    )
                )
                continue
            names = ", ".join(f"{k} {n}" + (" (listed more than once)" if who.count((k, n)) > 1 else "") for k, n in dict.fromkeys(who))
            for kind, name in list(dict.fromkeys(who))[1:]:
                out.append(
                    Finding(
                        F,
                        name,
                        f"public key {key_str(key)[:8]}… is shared by {names}: WireGuard can only route to one of them",
                        kind,
                        hint="give each node and peer its own key pair (wg genkey | wg pubkey)",
                    )
                )
    if not out:
        out.append(Finding(P, "cluster", f"{len(inp.cluster.peers)} valid peer(s), no shared keys", "cluster"))
    return out


# --- objects read by the live group, but still objects only -------------------------------------------


def node_ready(inp: StaticInput) -> list[Finding]:
    if not inp.node_objs:
        # kgctl says "could not get any nodes"; nothing else can be judged either.
        return [
            Finding(
                F,
                "cluster",
                "no nodes in the input: nothing to check",
                "cluster",
                hint="kubectl get nodes (on a snapshot: capture it with kgctl-py snapshot or kubectl get nodes,peers -o yaml)",
            )
        ]
    out: list[Finding] = []
    for obj, node in zip(inp.node_objs, inp.nodes):
        conditions = (obj.get("status") or {}).get("conditions") or []
        ready = next((c for c in conditions if isinstance(c, dict) and c.get("type") == "Ready"), None)
        if ready is None:
            out.append(Finding(F, node.name, "no Ready condition reported", hint=f"kubectl describe node {node.name}"))
        elif ready.get("status") == "True":
            out.append(Finding(P, node.name, "Ready"))
        else:
            why = ready.get("message") or ready.get("reason") or ready.get("status")
            out.append(Finding(F, node.name, f"not Ready: {why}", hint=f"kubectl describe node {node.name}; journalctl -u k3s-agent on the node"))
    return out


def kilo_daemonset(inp: StaticInput) -> list[Finding]:
    if inp.pods_problem:
        return [Finding(F, "cluster", inp.pods_problem, "cluster", hint=_can_i_hint(inp.pods_problem))]
    if not inp.pods_listed:
        return [Finding(S, "cluster", "no pods in the input (a snapshot without Kilo pods)", "cluster")]
    by_node: dict[str, list[dict[str, Any]]] = {}
    for pod in inp.pods:
        by_node.setdefault(str((pod.get("spec") or {}).get("nodeName") or ""), []).append(pod)
    out = []
    for node in inp.nodes:
        pods = by_node.get(node.name, [])
        ready = [p for p in pods if pod_ready(p)]
        if len(ready) == 1:
            out.append(Finding(P, node.name, f"Kilo pod {ready[0]['metadata']['name']} is Ready"))
        elif not pods:
            out.append(
                Finding(F, node.name, "no Kilo pod on this node", hint=f"kubectl -n kube-system get ds kilo; kubectl describe node {node.name} (taints?)")
            )
        elif not ready:
            phases = ", ".join(f"{p['metadata'].get('name')} {(p.get('status') or {}).get('phase', '?')}" for p in pods)
            out.append(Finding(F, node.name, f"Kilo pod not Ready: {phases}", hint=f"kubectl -n kube-system logs {pods[0]['metadata'].get('name')}"))
        else:
            out.append(Finding(W, node.name, f"{len(ready)} Ready Kilo pods on one node"))
    return out


def _can_i_hint(problem: str) -> str:
    """The `kubectl auth can-i ...` command a permission problem names, as the hint."""
    _, sep, command = problem.rpartition("(check with: ")
    return f"grant the permission, then re-run: {command.rstrip(')')}" if sep else ""


def pod_ready(pod: dict[str, Any]) -> bool:
    status = pod.get("status") or {}
    if status.get("phase") != "Running" or (pod.get("metadata") or {}).get("deletionTimestamp"):
        return False
    return any(isinstance(c, dict) and c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])
