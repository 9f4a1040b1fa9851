"""node.routes: the live routes and rp_filter of every node against Kilo's topology.

One exec per node, in its host-network Kilo pod, prints the main routing
table, ``ip route get`` for the addresses that matter, and every interface's
rp_filter; pure judges below compare that text with
``kgctl_py.mesh.routes.expected_routes``. Plain ``ip route`` text is read (not
``-j``) so that busybox's ``ip`` in a minimal image works too.
"""

from __future__ import annotations

import ipaddress
import shlex
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from kgctl_py.doctor.kube import ExecOutcome
from kgctl_py.doctor.model import Finding, Status
from kgctl_py.doctor.numbers import decimal
from kgctl_py.doctor.pool import run_bounded
from kgctl_py.mesh.cluster import KgctlError, Options, node_topology
from kgctl_py.mesh.routes import Route, expected_routes, gateway_of
from kgctl_py.record import record

if TYPE_CHECKING:
    from kgctl_py.doctor.live import LiveContext

GET_MARK = "#kgctl-py get "
RP_MARK = "#kgctl-py rp_filter"
STRICT = 1


@record(frozen=True)
class LiveRoute:
    dst: str  # CIDR text; "0.0.0.0/0" for default
    gateway: str | None
    dev: str | None


@record
class NodeRoutes:
    table: list[LiveRoute]
    gets: dict[str, LiveRoute | None]  # address -> what `ip route get` said (None: no route)
    rp_filter: dict[str, int]  # interface ("all", "eth0", ...) -> value


def script(addresses: list[str]) -> str:
    """The shell text one exec runs: routes, route lookups, rp_filter."""
    parts = ["ip route show table main"]
    for a in addresses:
        parts.append(f"echo {shlex.quote(GET_MARK + a)}; ip route get {shlex.quote(a)} 2>&1")
    parts.append(f"echo {shlex.quote(RP_MARK)}; grep -H . /proc/sys/net/ipv4/conf/*/rp_filter")
    return "; ".join(parts)


def _words(line: str) -> tuple[str, dict[str, str]]:
    tokens = line.split()
    if not tokens:
        return "", {}
    head, rest = tokens[0], tokens[1:]
    if head in ("unicast", "local", "broadcast", "unreachable", "blackhole", "prohibit", "throw") and rest:
        head, rest = (rest[0], rest[1:]) if head == "unicast" else (f"{head} {rest[0]}", rest[1:])
    fields = {}
    for i in range(0, len(rest) - 1):
        if rest[i] in ("via", "dev", "src", "proto"):
            fields[rest[i]] = rest[i + 1]
    return head, fields


def _dst(text: str) -> str | None:
    if text == "default":
        return "0.0.0.0/0"
    try:
        return str(ipaddress.ip_network(text, strict=False))
    except ValueError:
        return None


def parse(text: str) -> NodeRoutes:
    table: list[LiveRoute] = []
    gets: dict[str, LiveRoute | None] = {}
    rp: dict[str, int] = {}
    section, current = "table", ""
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith(GET_MARK):
            section, current = "get", line[len(GET_MARK) :].strip()
            gets[current] = None
            continue
        if line == RP_MARK:
            section = "rp"
            continue
        if not line:
            continue
        if section == "table":
            head, fields = _words(line)
            dst = _dst(head)
            if dst is not None:
                table.append(LiveRoute(dst, fields.get("via"), fields.get("dev")))
        elif section == "get":
            head, fields = _words(line)
            if gets.get(current) is None and "dev" in fields:
                kind = head.split()[0] if " " in head else ""
                gets[current] = LiveRoute(current, fields.get("via"), "lo" if kind == "local" else fields["dev"])
        else:
            path, _, value = line.rpartition(":")
            iface = path.rsplit("/", 2)[-2] if path.count("/") >= 2 else ""
            if iface and (number := decimal(value)) is not None:
                rp[iface] = number
    return NodeRoutes(table, gets, rp)


def lookup(table: list[LiveRoute], dst: str) -> LiveRoute | None:
    """The longest route in ``table`` that covers all of ``dst``."""
    want = ipaddress.ip_network(dst)
    best: LiveRoute | None = None
    best_len = -1
    for r in table:
        net = ipaddress.ip_network(r.dst)
        if net.version == want.version and want.subnet_of(net) and net.prefixlen > best_len:  # type: ignore[arg-type]
            best, best_len = r, net.prefixlen
    return best


def _path(r: LiveRoute) -> str:
    return (f"via {r.gateway} " if r.gateway else "") + f"dev {r.dev or '?'}"


def judge_routes(expected: list[Route], table: list[LiveRoute], kilo_iface: str) -> list[str]:
    """Where a destination's live route disagrees with Kilo's topology."""
    problems = []
    for want in expected:
        got = lookup(table, want.dst)
        where = f"{want.dst} ({want.why})"
        if got is None:
            problems.append(f"{where}: no route")
            continue
        if want.kilo:
            if got.dev != kilo_iface:
                problems.append(f"{where} goes {_path(got)}, not through {kilo_iface}")
            elif want.gateway and got.gateway and got.gateway != want.gateway:
                problems.append(f"{where} goes {_path(got)}, Kilo routes it via {want.gateway}")
        else:
            if got.dev == kilo_iface:
                problems.append(f"{where} enters {kilo_iface}, Kilo routes it via {want.gateway}")
            elif want.gateway and got.gateway != want.gateway:
                problems.append(f"{where} goes {_path(got)}, Kilo routes it via {want.gateway}")
    return problems


def judge_api(addresses: list[str], gets: dict[str, LiveRoute | None], expected: list[Route], kilo_iface: str) -> list[str]:
    """An API server address may enter the Kilo interface only if Kilo routes it there."""
    problems = []
    for addr in addresses:
        got = gets.get(addr)
        if got is None or got.dev != kilo_iface:
            continue
        mesh = lookup(
            [LiveRoute(r.dst, r.gateway, kilo_iface if r.kilo else "private") for r in expected], f"{addr}/{ipaddress.ip_address(addr).max_prefixlen}"
        )
        if mesh is None or mesh.dev != kilo_iface:
            problems.append(f"traffic to the API server at {addr} enters {kilo_iface}, but {addr} is not across the mesh")
    return problems


def effective_rp_filter(rp: dict[str, int], iface: str) -> int | None:
    """The kernel uses the larger of conf/all and conf/IFACE."""
    if iface not in rp and "all" not in rp:
        return None
    return max(rp.get("all", 0), rp.get(iface, 0))


def strict_interfaces(rp: dict[str, int], ifaces: list[str]) -> list[str]:
    """Those of ``ifaces`` whose effective rp_filter is strict."""
    return [i for i in ifaces if effective_rp_filter(rp, i) == STRICT]


def judge_rp_filter(rp: dict[str, int], ifaces: list[str]) -> list[str]:
    strict = strict_interfaces(rp, ifaces)
    if not strict:
        return []
    return [
        f"rp_filter is strict (1) on {', '.join(strict)}: packets that come back through the leader "
        "are dropped whenever this node's route to their source leaves by another interface"
    ]


def api_addresses(ctx: LiveContext) -> list[str]:
    """The API server's addresses: the kubeconfig's host (unless loopback) and
    the addresses of the control-plane nodes."""
    found: list[str] = []

    def add(text: str | None) -> None:
        try:
            ip = ipaddress.ip_address(text or "")
        except ValueError:
            return
        if ip.version == 4 and not ip.is_loopback and str(ip) not in found:
            found.append(str(ip))

    add(urlparse(ctx.session.auth.server).hostname)
    for obj in ctx.static.node_objs:
        labels = (obj.get("metadata") or {}).get("labels") or {}
        if not any(k in labels for k in ("node-role.kubernetes.io/control-plane", "node-role.kubernetes.io/master")):
            continue
        for a in (obj.get("status") or {}).get("addresses") or []:
            if isinstance(a, dict) and a.get("type") in ("InternalIP", "ExternalIP"):
                add(a.get("address"))
    return found


def exec_each(ctx: LiveContext, targets: dict[str, dict[str, Any]], commands: dict[str, list[str]]) -> dict[str, ExecOutcome]:
    """Run each node's own command in its Kilo pod, in parallel (bounded)."""
    from kgctl_py.doctor.live import _container

    names = sorted(targets)

    def one(node: str) -> ExecOutcome:
        md = targets[node]["metadata"]
        return ctx.session.exec(
            md.get("namespace", ctx.opts.kilo_namespace), md["name"], _container(targets[node], "kilo"), commands[node], ctx.opts.exec_timeout
        )

    return {names[i]: r for i, r in run_bounded(names, one, ctx.opts.max_concurrent_execs).items()}


def _hint_rp(node: str, ifaces: list[str]) -> str:
    keys = " ".join(f"net.ipv4.conf.{i}.rp_filter=2" for i in ["all", *ifaces])
    return f"on {node}: sysctl -w {keys} (loose; persist it in /etc/sysctl.d/)"


def check(ctx: LiveContext) -> list[Finding]:
    from kgctl_py.doctor.live import _kilo_exec_precheck

    pods, early = _kilo_exec_precheck(ctx)
    if early:
        return early
    s = ctx.static
    iface = ctx.opts.wg_interface
    apis = api_addresses(ctx)
    plans: dict[str, tuple[list[Route], str | None]] = {}
    out: list[Finding] = []
    for node in s.nodes:
        if node.name not in pods:
            out.append(Finding(Status.SKIP, node.name, "no Ready Kilo pod to exec in"))
            continue
        try:
            t, _ = node_topology(s.cluster, node.name, Options(granularity=s.granularity, port=s.port), s.now)
        except KgctlError:
            out.append(Finding(Status.SKIP, node.name, "not a ready node: Kilo computes no routes for it"))
            continue
        plans[node.name] = (expected_routes(t), gateway_of(t))
    if not plans:
        return out
    ctx.progress("reading routes and rp_filter on the nodes")
    commands = {name: ["sh", "-c", script(apis + ([gw] if gw else []))] for name, (_, gw) in plans.items()}
    outcomes = exec_each(ctx, {n: pods[n] for n in plans}, commands)
    for name in sorted(plans):
        expected, gw = plans[name]
        o = outcomes[name]
        if not o.error and o.exit_code in (126, 127) and not o.stdout:
            out.append(Finding(Status.SKIP, name, f"the Kilo pod cannot run sh/ip: {o.stderr.strip() or o.exit_code}"))
            continue
        if o.error or (o.exit_code not in (0, 1, 2) and not o.stdout):
            out.append(Finding(Status.FAIL, name, f"cannot read routes: {o.error or o.stderr.strip() or o.exit_code}"))
            continue
        live = parse(o.stdout)
        route_problems = judge_routes(expected, live.table, iface)
        api_problems = judge_api(apis, live.gets, expected, iface)
        ifaces: list[str] = []
        if gw is not None:  # a member: the mesh comes back through its leader
            underlay = live.gets.get(gw)
            ifaces = [iface] + ([underlay.dev] if underlay and underlay.dev and underlay.dev != iface else [])
        rp_problems = judge_rp_filter(live.rp_filter, ifaces)
        problems = route_problems + api_problems + rp_problems
        if route_problems:
            md = pods[name]["metadata"]
            hint = (
                f"compare: {ctx.kubectl} -n {md.get('namespace', ctx.opts.kilo_namespace)} exec {md['name']} -- ip route; "
                "remove routes Kilo did not add, then restart that Kilo pod"
            )
        elif api_problems:
            addrs = [a for a in apis if any(a + " " in p for p in api_problems)]
            hint = f"on {name}: " + "; ".join(f"ip route del {a} dev {iface}" for a in addrs) + " (and find what added it)"
        elif rp_problems:
            hint = _hint_rp(name, strict_interfaces(live.rp_filter, ifaces))
        if problems:
            out.append(Finding(Status.FAIL, name, "; ".join(problems), hint=hint))
        else:
            role = "member via " + gw if gw else "leader"
            out.append(Finding(Status.PASS, name, f"{len(expected)} route(s) as Kilo's topology says ({role}); API server not routed into {iface}"))
    return out
